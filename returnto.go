package oidcauth

import (
	"net/url"
	"strings"
)

// maxReturnToLen bounds the return-to target kept in a pending login.
const maxReturnToLen = 2048

// SafeReturnTo returns target when it is a path on this origin, and "/"
// otherwise. Absolute URLs, scheme-relative //host, /\host, schemes such as
// javascript:, control characters, and any percent-encoded form of these are
// refused, so a login can never be turned into an open redirect.
func SafeReturnTo(target string) string {
	if target == "" || len(target) > maxReturnToLen || target[0] != '/' {
		return "/"
	}
	// Decode repeatedly: every layer a browser or proxy might undo must be safe.
	s := target
	for range 4 {
		if !safePathForm(s) {
			return "/"
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return "/"
		}
		if d == s {
			break
		}
		s = d
	}
	if !safePathForm(s) {
		return "/"
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return target
}

// safePathForm reports whether s starts with exactly one slash, has no
// backslash, no control or space character (browsers drop tabs and newlines,
// and read a backslash as a slash), and no dot segment or double slash.
func safePathForm(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return false
		}
	}
	// No empty or dot segments in the path: resolving them could yield //host.
	path, _, _ := strings.Cut(s, "?")
	path, _, _ = strings.Cut(path, "#")
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(path, "//")
}
