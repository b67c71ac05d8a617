package oidcauth

import (
	"encoding/json"
	"fmt"
	"time"
)

// The types of the Claims fields that providers send in more than one form.
// Each reads every form itself, so Claims needs no UnmarshalJSON method: a
// struct that embeds Claims beside claims of its own decodes both with
// encoding/json (an UnmarshalJSON of Claims would be promoted to that
// struct and decode only the standard claims).

// NumericDate is a time claim (exp, iat, auth_time): a JWT NumericDate
// (RFC 7519 section 2), seconds since the epoch as a JSON number, integer
// or not. It is a time.Time with its methods (c.Expiry.Before(t),
// c.Expiry.IsZero()); c.Expiry.Time is the time.Time itself. An absent or
// null claim is the zero time. It encodes as time.Time does (RFC 3339) and
// reads that form back too.
type NumericDate struct{ time.Time }

// UnmarshalJSON reads a number of seconds since the epoch, or an RFC 3339
// string; null leaves the date as it is.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var t time.Time
		if err := t.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("a NumericDate must be a number of seconds: %w", err)
		}
		d.Time = t.UTC()
		return nil
	}
	var j jsonTime
	if err := j.UnmarshalJSON(b); err != nil {
		return err
	}
	d.Time = time.Time(j).UTC()
	return nil
}

// Audience is the aud claim: the audiences the token is meant for, which
// providers send as one string or as an array of strings. It is a []string
// (range, len, slices.Contains and assignment to a []string work as they
// are).
type Audience []string

// UnmarshalJSON reads a string or an array of strings; null is no audience.
func (a *Audience) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*a = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

// Bool is a boolean claim (email_verified, phone_number_verified), which
// some providers send as the string "true" or "false". Its underlying type
// is bool, so `if c.EmailVerified` works; bool(c.EmailVerified) converts.
// Only true and "true" are true; anything else is false, never an error.
type Bool bool

// UnmarshalJSON reads true, false, "true" or "false"; any other value is
// false.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s := string(b)
	*v = s == "true" || s == `"true"`
	return nil
}
