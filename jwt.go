package oidcauth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// jsonTime is a JWT NumericDate (RFC 7519 section 2): seconds since the
// epoch, integer or not, as go-oidc reads it. Every time claim oidcauth
// checks itself (iat, nbf, exp, auth_time of id_tokens, logout tokens and
// Claims) is one; a claim that may be absent is a *jsonTime, nil when it is
// absent or null.
type jsonTime time.Time

// UnmarshalJSON reads a JSON number; anything else is an error.
func (j *jsonTime) UnmarshalJSON(b []byte) error {
	var n json.Number
	if len(b) > 0 && (b[0] == '-' || '0' <= b[0] && b[0] <= '9') {
		// A number literal, already checked by the decoder calling this:
		// what json.Unmarshal into a json.Number makes of it, without a
		// second decoder for every time claim.
		n = json.Number(b)
	} else if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if unix, err := n.Int64(); err == nil {
		*j = jsonTime(time.Unix(unix, 0))
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return err
	}
	*j = jsonTime(time.Unix(int64(f), 0))
	return nil
}

// time returns the time, zero for a nil *jsonTime.
func (j *jsonTime) time() time.Time {
	if j == nil {
		return time.Time{}
	}
	return time.Time(*j)
}

// jwtPayload returns the decoded payload of a compact JWS, whose signature
// was verified when it entered the session.
func jwtPayload(jwt string) ([]byte, error) {
	_, rest, ok := strings.Cut(jwt, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, ErrIDToken
	}
	return base64.RawURLEncoding.DecodeString(payload)
}
