package oidcauth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/oauth2"
)

// The harness's token routes, its login cookies, and several instances at
// once (helpers_test.go has the harness itself).

// offline asks for a refresh token.
var offline = WithScopes("openid", "profile", "email", "offline_access")

// tokenRoutes are the harness's routes for the token accessors.
func (h *harness) tokenRoutes(mux *http.ServeMux) {
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := h.auth.Token(r)
		if err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(tok)
	})
	mux.Handle("GET /api/token", h.auth.Require(token))
	mux.Handle("GET /token-page", h.auth.Require(token))
	mux.Handle("GET /api/token-open", token) // no Require: Token on an anonymous session
	mux.Handle("GET /api/userinfo", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := h.auth.UserInfo(r)
		if err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(info)
	})))
	// /api/call GETs the URL in its url parameter with Client and relays the answer.
	mux.Handle("GET /api/call", h.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Query().Get("url"), nil)
		resp, err := h.auth.Client(r).Do(req)
		if err != nil {
			h.auth.HandleError(w, r, err)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})))
}

// fetch GETs path as an API client; safe in any goroutine.
func (h *harness) fetch(path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, h.app.URL+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// apiToken returns the access token GET /api/token answers, failing unless 200.
func (h *harness) apiToken() string {
	h.t.Helper()
	resp := h.do(http.MethodGet, "/api/token", nil)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal([]byte(body(resp)), &tok); resp.StatusCode != http.StatusOK || err != nil || tok.AccessToken == "" {
		h.t.Fatalf("GET /api/token: status %d body %s", resp.StatusCode, body(resp))
	}
	if tok.RefreshToken != "" {
		h.t.Fatal("GET /api/token: Token handed out the refresh token")
	}
	return tok.AccessToken
}

// loginCookies returns the browser's login cookies (logins under way).
func (h *harness) loginCookies() []*http.Cookie {
	h.t.Helper()
	var cs []*http.Cookie
	for _, c := range h.client.Jar.Cookies(mustParse(h.app.URL + "/callback")) {
		if slices.Contains(h.auth.pending.slots, c.Name) {
			c.Path = "/"
			cs = append(cs, c)
		}
	}
	return cs
}

// editLoginCookies opens the browser's login cookies, edits them and seals
// them again.
func (h *harness) editLoginCookies(edit func(*pendingLogin)) {
	h.t.Helper()
	ctx := context.Background()
	aead, _, err := h.auth.loginAEAD(ctx, false)
	if err != nil {
		h.t.Fatal(err)
	}
	var edited []*http.Cookie
	for _, c := range h.loginCookies() {
		p, err := h.auth.open(aead, c.Value)
		if err != nil {
			h.t.Fatal(err)
		}
		edit(p)
		if c.Value, err = h.auth.seal(ctx, p); err != nil {
			h.t.Fatal(err)
		}
		edited = append(edited, c)
	}
	h.client.Jar.SetCookies(mustParse(h.app.URL), edited)
}

// tokensAtOnce sends n GET /api/token at once, to each instance in turn,
// and returns the access tokens they got ("" for a failed one, reported).
func tokensAtOnce(t *testing.T, n int, instances ...*harness) []string {
	t.Helper()
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range tokens {
		h := instances[i%len(instances)]
		wg.Go(func() {
			st, body, err := h.fetch("/api/token")
			var tok oauth2.Token
			if err != nil || st != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil {
				t.Errorf("request %d: %d %s %v", i, st, body, err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()
	return tokens
}

// appManager is WithSessionManager with a fresh scs manager on store: the
// application's own manager, scs's defaults.
func appManager(store scs.Store) Option {
	sm := scs.New()
	sm.Store = store
	return WithSessionManager(sm)
}
