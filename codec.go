package oidcauth

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionCodec is the scs Codec of oidcauth's own session manager. A
// session that holds only a login (nearly all of them) is encoded in a few
// dozen bytes that decode without reflection; any other session goes
// through scs's gob codec, marked as such. Data it cannot read (a session of
// an earlier format) decodes as an empty session: the user logs in again,
// never an error page. An application's own manager keeps its own codec.
type sessionCodec struct{}

const (
	codecLogin       byte = 0x4c // 'L': a session holding only a login
	codecLoginIssuer byte = 0x49 // 'I': the same, with the login's issuer (multi-tenant)
	codecGob         byte = 0x47 // 'G': scs.GobCodec follows
)

// Encode encodes the deadline and values of a session.
func (sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if l, ok := values[sessionKey].(*login); ok && len(values) == 1 {
		fields := []string{l.ID, l.Subject, l.SessionID, l.Tag, l.Issuer}
		marker := codecLoginIssuer
		if l.Issuer == "" {
			fields, marker = fields[:4], codecLogin
		}
		b := make([]byte, 0, 64+len(l.ID)+len(l.Subject)+len(l.SessionID)+len(l.Tag)+len(l.Issuer))
		b = append(b, marker)
		b = binary.AppendVarint(b, deadline.UnixNano())
		for _, s := range fields {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendVarint(b, l.LoginTime.UnixNano())
		b = binary.AppendVarint(b, unixNano(l.Seen))
		return b, nil
	}
	g, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		return nil, err
	}
	return append([]byte{codecGob}, g...), nil
}

// Decode decodes a session; what it cannot read is an empty session that
// has expired.
func (sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) > 0 {
		switch b[0] {
		case codecLogin, codecLoginIssuer:
			if deadline, l, err := decodeLogin(b[1:], b[0] == codecLoginIssuer); err == nil {
				return deadline, map[string]any{sessionKey: l}, nil
			}
		case codecGob:
			if deadline, values, err := (scs.GobCodec{}).Decode(b[1:]); err == nil {
				return deadline, values, nil
			}
		}
	}
	return time.Time{}, map[string]any{}, nil
}

var errCodec = errors.New("malformed session record")

// decodeLogin decodes a login record, with its issuer when withIssuer.
func decodeLogin(b []byte, withIssuer bool) (time.Time, *login, error) {
	deadline, n := binary.Varint(b)
	if n <= 0 {
		return time.Time{}, nil, errCodec
	}
	b = b[n:]
	var fields [5]string
	count := 4
	if withIssuer {
		count = 5
	}
	for i := range count {
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return time.Time{}, nil, errCodec
		}
		fields[i] = string(b[n : n+int(size)])
		b = b[n+int(size):]
	}
	loginTime, n1 := binary.Varint(b)
	if n1 <= 0 {
		return time.Time{}, nil, errCodec
	}
	seen, n2 := binary.Varint(b[n1:])
	if n2 <= 0 || n1+n2 != len(b) {
		return time.Time{}, nil, errCodec
	}
	l := &login{ID: fields[0], Subject: fields[1], SessionID: fields[2], Tag: fields[3], Issuer: fields[4], LoginTime: time.Unix(0, loginTime).UTC()}
	if seen != 0 {
		l.Seen = time.Unix(0, seen)
	}
	return time.Unix(0, deadline).UTC(), l, nil
}

// unixNano is t in unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
