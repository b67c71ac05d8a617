package oidcauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// maxRevocationResponse caps what is read of a revocation response.
const maxRevocationResponse = 16 << 10

// revokeTokenSets revokes the refresh and access tokens of sets at the
// revocation endpoint (RFC 7009) of their provider p, best effort: every request runs
// at once, all within one timeout (WithTimeout); a failure is logged,
// without the token, and otherwise ignored.
func (a *Auth) revokeTokenSets(ctx context.Context, p *provider, sets []*tokenSet) {
	if p.meta.RevocationEndpoint == "" || len(sets) == 0 {
		return
	}
	// The logout's own request may end before the revocation does.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	ctx, span := p.tel.startSpan(ctx, spanRevocation)
	var failed atomic.Bool
	defer func() {
		var err error
		if failed.Load() {
			err = errRevocation
		}
		endSpan(span, err)
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, ts := range sets {
		for _, t := range []struct{ token, hint string }{
			{ts.RefreshToken, "refresh_token"},
			{ts.AccessToken, "access_token"},
		} {
			if t.token == "" {
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := p.revoke(ctx, t.token, t.hint); err != nil {
					failed.Store(true)
					a.log.WarnContext(ctx, "oidcauth: token revocation failed", "token_type_hint", t.hint, "err", err)
					return
				}
				a.log.DebugContext(ctx, "oidcauth: token revoked", "token_type_hint", t.hint)
			})
		}
	}
	wg.Wait()
}

// errRevocation is the error of a revocation span in which a token could
// not be revoked (revocation is best effort: no request fails with it).
var errRevocation = newError(ErrSession, "revocation_failed", "", nil)

// revoke sends one revocation request, authenticated as the client is at
// the token endpoint.
func (p *provider) revoke(ctx context.Context, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	resp, err := p.postAsClient(ctx, p.meta.RevocationEndpoint, form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevocationResponse))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.Unmarshal(body, &e)
	return fmt.Errorf("the revocation endpoint answered %s: %q %q", resp.Status, printable(e.Error, 64), printable(e.Description, 200))
}
