package oidcauth

import (
	"testing"
	"time"
)

// TestSessionCodecRoundTrip: a login record decodes as it was encoded, its
// issuer (multi-tenant logins) included, and one without an issuer keeps
// the shorter format that earlier sessions have.
func TestSessionCodecRoundTrip(t *testing.T) {
	deadline := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	tests := []struct {
		name   string
		issuer string
		marker byte
	}{
		{"one issuer", "", codecLogin},
		{"a tenant's issuer", "https://login.example/0b5d4f3e-1c2a-4b6d-8e9f-a1b2c3d4e5f6/v2.0", codecLoginIssuer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &login{ID: "id", Subject: "alice", SessionID: "sid", Issuer: tt.issuer, Tag: "tag",
				LoginTime: time.Unix(1700000000, 5).UTC(), Seen: time.Unix(1700000100, 0)}
			b, err := sessionCodec{}.Encode(deadline, map[string]any{sessionKey: in})
			if err != nil || b[0] != tt.marker {
				t.Fatalf("Encode: %v, marker %q, want %q", err, b[0], tt.marker)
			}
			gotDeadline, values, err := sessionCodec{}.Decode(b)
			out, _ := values[sessionKey].(*login)
			if err != nil || !gotDeadline.Equal(deadline) || out == nil || *out != *in {
				t.Fatalf("Decode: %v %v %+v, want %+v", err, gotDeadline, out, in)
			}
		})
	}
}
