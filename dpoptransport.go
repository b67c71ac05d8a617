package oidcauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// tokenClient returns c with a transport that adds the login's DPoP proof
// to every token request (code exchange, refresh). The login's key comes in
// the request's context (withDPoPKey). A transport that changes the body
// (a client assertion) belongs under this one, so that the retry with the
// server's nonce gets a fresh assertion.
func (d *dpopState) tokenClient(c *http.Client) *http.Client {
	cc := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = &dpopTokenTransport{base: base, d: d}
	return &cc
}

// dpopTokenTransport is the token endpoint's DPoP transport: a proof on
// every request, one retry on use_dpop_nonce, and a successful answer
// refused unless its token_type is DPoP.
type dpopTokenTransport struct {
	base http.RoundTripper
	d    *dpopState
}

func (t *dpopTokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	k, _ := req.Context().Value(dpopKeyKey{}).(*dpopKey)
	if k == nil {
		closeRequestBody(req)
		return nil, fmt.Errorf("%w: a token request without the login's key", ErrDPoP)
	}
	resp, err := t.d.send(t.base.RoundTrip, req, k, "", tokenEndpointAsksNonce)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if tt := responseTokenType(resp.Header.Get("Content-Type"), body); !strings.EqualFold(tt, "DPoP") {
		return nil, fmt.Errorf("%w: the token endpoint answered token_type %q where a DPoP-bound token was asked for", ErrDPoP, printable(tt, 32))
	}
	return resp, nil
}

// responseTokenType reads token_type from a token response, JSON or (as
// x/oauth2 also accepts) form-encoded.
func responseTokenType(contentType string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		v, _ := url.ParseQuery(string(body))
		return v.Get("token_type")
	}
	var r struct {
		TokenType string `json:"token_type"`
	}
	json.Unmarshal(body, &r)
	return r.TokenType
}

// send sends req with a fresh proof made with k (and ath for accessToken,
// when not empty). It remembers the server's DPoP-Nonce, and when asks says
// the server refused the proof for want of that nonce, sends the request
// once more with it: once only, and only when its body can be replayed.
func (d *dpopState) send(do func(*http.Request) (*http.Response, error), req *http.Request, k *dpopKey, accessToken string, asks func(*http.Response) bool) (*http.Response, error) {
	o := origin(req.URL)
	for try := 0; ; try++ {
		out := req.Clone(req.Context())
		if try > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		proof, err := k.proof(req.Method, req.URL, d.nonces.get(o), accessToken)
		if err != nil {
			if try == 0 {
				closeRequestBody(req)
			}
			return nil, err
		}
		out.Header.Set("DPoP", proof)
		if accessToken != "" {
			out.Header.Set("Authorization", "DPoP "+accessToken)
		}
		resp, err := do(out)
		if err != nil {
			return nil, err
		}
		nonce := resp.Header.Get("DPoP-Nonce")
		if nonce != "" {
			d.nonces.put(o, nonce)
		}
		if try > 0 || nonce == "" || !replayable(req) || !asks(resp) {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
	}
}

// tokenEndpointAsksNonce reports an authorization server's
// use_dpop_nonce error (RFC 9449 8): 400 with that error code. It leaves
// resp's body readable.
func tokenEndpointAsksNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error == "use_dpop_nonce"
}

// resourceAsksNonce reports a resource server's use_dpop_nonce challenge
// (RFC 9449 9): 401 with WWW-Authenticate: DPoP error="use_dpop_nonce".
func resourceAsksNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		v = strings.ToLower(v)
		if strings.Contains(v, "dpop") && strings.Contains(v, `error="use_dpop_nonce"`) {
			return true
		}
	}
	return false
}

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// sendWithToken sends req with the access token of ts: as a DPoP token
// with a fresh proof made with the login's key when the token is
// DPoP-bound, as a Bearer token otherwise.
func (a *Auth) sendWithToken(do func(*http.Request) (*http.Response, error), req *http.Request, ts *tokenSet) (*http.Response, error) {
	if !ts.isDPoP() {
		out := req.Clone(req.Context())
		ts.oauth2Token().SetAuthHeader(out)
		return do(out)
	}
	k, err := ts.proofKey()
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	return a.dpopNonces().send(do, req, k, ts.AccessToken, resourceAsksNonce)
}

// proofKey is the key of a DPoP-bound token set; an error when it has none.
func (ts *tokenSet) proofKey() (*dpopKey, error) {
	k, err := ts.dpopKey()
	if err == nil && k == nil {
		err = fmt.Errorf("%w: the DPoP-bound token has no key in its record", ErrDPoP)
	}
	return k, err
}

// dpopNonces is the DPoP state that remembers nonces: the first
// provider's with WithDPoP (nonces are kept by the server's origin, so
// every login shares them), or one for this call alone when a DPoP-bound
// login outlived WithDPoP.
func (a *Auth) dpopNonces() *dpopState {
	for _, p := range a.providers {
		if p.dpop != nil {
			return p.dpop
		}
	}
	return &dpopState{}
}

// dpopClientTransport is the transport of [Auth.Client] with WithDPoP.
type dpopClientTransport struct {
	a    *Auth
	ctx  context.Context
	base http.RoundTripper
}

func (t *dpopClientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ts, _, err := t.a.requestTokens(t.ctx, "")
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	return t.a.sendWithToken(t.base.RoundTrip, req, ts)
}

// AuthHeaders returns the headers that authorize a request of method to
// target with the request's access token (refreshed first as [Auth.Token]
// does): Authorization, and with a DPoP-bound token (WithDPoP) a fresh DPoP
// proof for that method and URL, carrying the newest nonce seen from
// target's server. It is for clients other than [Auth.Client] (a gRPC
// call, a WebSocket dial, a transport of the application's own); make one
// per request, and pass a response to [Auth.DPoPNonce] so that the next
// proof carries the server's nonce.
func (a *Auth) AuthHeaders(r *http.Request, method, target string) (http.Header, error) {
	ts, _, err := a.requestTokens(r.Context(), "")
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if !ts.isDPoP() {
		h.Set("Authorization", ts.oauth2Token().Type()+" "+ts.AccessToken)
		return h, nil
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an absolute URL", ErrDPoP, target)
	}
	k, err := ts.proofKey()
	if err != nil {
		return nil, err
	}
	proof, err := k.proof(method, u, a.dpopNonces().nonces.get(origin(u)), ts.AccessToken)
	if err != nil {
		return nil, err
	}
	h.Set("Authorization", "DPoP "+ts.AccessToken)
	h.Set("DPoP", proof)
	return h, nil
}

// DPoPNonce remembers the DPoP-Nonce header of resp, if any, as the newest
// nonce of its request's server, for the proofs [Auth.AuthHeaders] makes.
// [Auth.Client] and [Auth.UserInfo] do this themselves. It reports whether
// the server refused the proof for want of that nonce (a 401 with
// WWW-Authenticate: DPoP error="use_dpop_nonce"): the request may then be
// repeated once with new headers.
func (a *Auth) DPoPNonce(resp *http.Response) bool {
	nonce := resp.Header.Get("DPoP-Nonce")
	if nonce == "" || resp.Request == nil {
		return false
	}
	for _, p := range a.providers {
		if p.dpop != nil {
			p.dpop.nonces.put(origin(resp.Request.URL), nonce)
			break // dpopNonces reads the first one's
		}
	}
	return resourceAsksNonce(resp)
}
