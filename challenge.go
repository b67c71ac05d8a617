package oidcauth

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RFC 9470: a resource server that finds the user's authentication too weak
// or too old for a request answers 401 with
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="...", max_age=N
//
// [Auth.Client] turns that answer into a [*StepUpError], and
// [Auth.HandleError] into a step-up login. The challenge is parsed strictly
// (RFC 9110 11.6.1 auth-param syntax, bounded), and only acr_values and
// max_age are taken from it, as the values of those two parameters: nothing
// in it can change the redirect URI, the client, the scopes or add a
// parameter to the authorization request.

// Bounds of the challenge parser.
const (
	maxChallengeLen    = 4 << 10 // one WWW-Authenticate field value
	maxChallengeFields = 8       // WWW-Authenticate fields looked at
	maxChallengeParams = 16      // parameters of one challenge
	maxAgeDigits       = 9       // max_age is at most 999999999 seconds
)

// StepUpError is the error of a request to a resource server that answered
// 401 with an RFC 9470 insufficient_user_authentication challenge: the user
// must log in again with one of ACRValues and/or at most MaxAge ago.
// errors.Is(err, ErrInsufficientAuthentication) holds; [Auth.HandleError]
// answers it with a step-up login.
type StepUpError struct {
	// ACRValues are the acceptable acr values, in the server's order; empty
	// when it named none.
	ACRValues []string
	// MaxAge is the oldest authentication the server accepts; negative
	// when it named none.
	MaxAge time.Duration
}

// Error describes what the resource server asked for.
func (e *StepUpError) Error() string {
	s := "oidcauth: the resource server requires a stronger or more recent authentication"
	if len(e.ACRValues) > 0 {
		s += fmt.Sprintf(" (acr_values %q)", e.ACRValues)
	}
	if e.MaxAge >= 0 {
		s += fmt.Sprintf(" (max_age %v)", e.MaxAge)
	}
	return s
}

// Unwrap makes errors.Is(err, ErrInsufficientAuthentication) hold.
func (e *StepUpError) Unwrap() error { return ErrInsufficientAuthentication }

// request is the login that meets e.
func (e *StepUpError) request() loginRequest {
	req := loginRequest{acr: e.ACRValues}
	if e.MaxAge >= 0 {
		req.maxAge, req.hasMaxAge = e.MaxAge, true
	}
	return req
}

// StepUpChallenge reports whether resp is a 401 with an RFC 9470
// insufficient_user_authentication Bearer challenge, and what it asks for.
// [Auth.Client] uses it on every response; call it on responses of other
// clients. A challenge that does not parse strictly, or asks for neither
// acr_values nor max_age, is none.
func StepUpChallenge(resp *http.Response) (*StepUpError, bool) {
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		return nil, false
	}
	return parseStepUp(resp.Header.Values("WWW-Authenticate"))
}

// parseStepUp finds the one insufficient_user_authentication Bearer
// challenge in the WWW-Authenticate field values.
func parseStepUp(fields []string) (*StepUpError, bool) {
	if len(fields) > maxChallengeFields {
		return nil, false
	}
	var found *StepUpError
	for _, f := range fields {
		challenges, err := parseChallenges(f)
		if err != nil {
			continue
		}
		for _, c := range challenges {
			// DPoP-bound tokens get the challenge with the DPoP scheme
			// (RFC 9449 7.1).
			if (!strings.EqualFold(c.scheme, "Bearer") && !strings.EqualFold(c.scheme, "DPoP")) ||
				c.params["error"] != "insufficient_user_authentication" {
				continue
			}
			e, ok := stepUpOf(c.params)
			if !ok || found != nil {
				return nil, false // unusable, or two of them: none
			}
			found = e
		}
	}
	return found, found != nil
}

// stepUpOf reads acr_values and max_age from a challenge's parameters.
func stepUpOf(params map[string]string) (*StepUpError, bool) {
	e := &StepUpError{MaxAge: -1}
	acr, hasACR := params["acr_values"]
	if hasACR {
		e.ACRValues = strings.Split(acr, " ")
		if len(e.ACRValues) > maxACRValues {
			return nil, false
		}
		for _, v := range e.ACRValues {
			if !validACR(v) {
				return nil, false // also an empty value: a double or edge space
			}
		}
	}
	if v, ok := params["max_age"]; ok {
		if v == "" || len(v) > maxAgeDigits || strings.Trim(v, "0123456789") != "" {
			return nil, false
		}
		n, _ := strconv.Atoi(v)
		e.MaxAge = time.Duration(n) * time.Second
	}
	if !hasACR && e.MaxAge < 0 {
		return nil, false
	}
	return e, true
}

// challenge is one challenge of a WWW-Authenticate field: its scheme and
// its auth-params, names lowercased.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses a WWW-Authenticate field value (RFC 9110 11.6.1):
//
//	#challenge; challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// strictly: any byte out of the grammar, a repeated parameter, a value
// outside US-ASCII or a field over the bounds fails the whole field.
func parseChallenges(s string) ([]challenge, error) {
	if len(s) > maxChallengeLen {
		return nil, errors.New("the field is too long")
	}
	p := &challengeParser{s: s}
	var out []challenge
	for {
		p.skipListSeparators()
		if p.eof() {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return nil, p.errorf("an auth-scheme")
		}
		c := challenge{scheme: scheme, params: map[string]string{}}
		if p.eof() || p.peek() == ',' {
			out = append(out, c)
			continue
		}
		if p.peek() != ' ' {
			return nil, p.errorf("a space after the auth-scheme")
		}
		for !p.eof() && p.peek() == ' ' {
			p.i++
		}
		if p.eof() {
			out = append(out, c)
			continue
		}
		if t68, ok := p.token68(); ok {
			c.params[""] = t68 // no parameters: nothing a step-up reads
			out = append(out, c)
			continue
		}
		// One or more auth-params, until the next challenge.
		for {
			name, value, err := p.authParam()
			if err != nil {
				return nil, err
			}
			name = strings.ToLower(name)
			if _, dup := c.params[name]; dup {
				return nil, fmt.Errorf("the parameter %q is repeated", printable(name, 40))
			}
			if len(c.params) == maxChallengeParams {
				return nil, errors.New("too many parameters")
			}
			c.params[name] = value
			p.skipOWS()
			if p.eof() {
				break
			}
			if p.peek() != ',' {
				return nil, p.errorf("a comma after a parameter")
			}
			// A comma: another parameter, or the next challenge.
			save := p.i
			p.skipListSeparators()
			if p.eof() {
				break
			}
			if !p.atAuthParam() {
				p.i = save
				break
			}
		}
		out = append(out, c)
	}
}

// challengeParser reads a field value byte by byte.
type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) eof() bool  { return p.i >= len(p.s) }
func (p *challengeParser) peek() byte { return p.s[p.i] }

func (p *challengeParser) errorf(want string) error {
	return fmt.Errorf("want %s at byte %d", want, p.i)
}

// skipOWS skips spaces and tabs.
func (p *challengeParser) skipOWS() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// skipListSeparators skips OWS and empty list elements (RFC 9110 5.6.1).
func (p *challengeParser) skipListSeparators() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == ',') {
		p.i++
	}
}

// isTchar reports whether c is a tchar (RFC 9110 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// token reads a token, or returns "" without moving.
func (p *challengeParser) token() string {
	start := p.i
	for !p.eof() && isTchar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads a token68 followed by the end of the challenge (OWS, then a
// comma or the end), or moves nowhere and returns false.
func (p *challengeParser) token68() (string, bool) {
	start, i := p.i, p.i
	for i < len(p.s) && (isAlnum(p.s[i]) || strings.IndexByte("-._~+/", p.s[i]) >= 0) {
		i++
	}
	if i == start {
		return "", false
	}
	for i < len(p.s) && p.s[i] == '=' {
		i++
	}
	j := i
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return "", false
	}
	// "name=" then a comma or the end is a token68 (an auth-param needs a
	// value); "name" alone is too.
	p.i = i
	return p.s[start:i], true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// atAuthParam reports whether an auth-param starts here: token BWS "=".
func (p *challengeParser) atAuthParam() bool {
	i := p.i
	for i < len(p.s) && isTchar(p.s[i]) {
		i++
	}
	if i == p.i {
		return false
	}
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t') {
		i++
	}
	return i < len(p.s) && p.s[i] == '='
}

// authParam reads token BWS "=" BWS ( token / quoted-string ).
func (p *challengeParser) authParam() (name, value string, err error) {
	if name = p.token(); name == "" {
		return "", "", p.errorf("a parameter name")
	}
	p.skipOWS()
	if p.eof() || p.peek() != '=' {
		return "", "", p.errorf(`"=" after a parameter name`)
	}
	p.i++
	p.skipOWS()
	if p.eof() {
		return "", "", p.errorf("a parameter value")
	}
	if p.peek() != '"' {
		if value = p.token(); value == "" {
			return "", "", p.errorf("a token or quoted-string value")
		}
		return name, value, nil
	}
	p.i++ // the opening quote
	var b strings.Builder
	for {
		if p.eof() {
			return "", "", p.errorf("the closing quote")
		}
		c := p.peek()
		p.i++
		switch {
		case c == '"':
			return name, b.String(), nil
		case c == '\\':
			if p.eof() {
				return "", "", p.errorf("a quoted character")
			}
			q := p.peek()
			if q != '\t' && (q < 0x20 || q > 0x7e) {
				return "", "", p.errorf("a visible quoted character")
			}
			b.WriteByte(q)
			p.i++
		case c == '\t' || (0x20 <= c && c <= 0x7e):
			b.WriteByte(c)
		default: // control characters; obs-text is refused too
			return "", "", p.errorf("qdtext")
		}
	}
}

// stepUpTransport turns a resource server's RFC 9470 challenge into a
// *StepUpError for the caller of [Auth.Client].
type stepUpTransport struct{ base http.RoundTripper }

func (t stepUpTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if e, ok := StepUpChallenge(resp); ok {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, e
	}
	return resp, nil
}
