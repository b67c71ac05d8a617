package oidcecho5_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcecho5"
)

// errorLog is an Echo HTTPErrorHandler that records the errors it renders
// and then renders them as Echo's default handler does.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handler() echo.HTTPErrorHandler {
	render := echo.DefaultHTTPErrorHandler(false)
	return func(c *echo.Context, err error) {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
		render(c, err)
	}
}

// find returns the oidcauth error of the given code that Echo's error
// handler rendered, as an *echo.HTTPError.
func (l *errorLog) find(code string) (*echo.HTTPError, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		var he *echo.HTTPError
		var oe *oidcauth.Error
		if errors.As(err, &he) && errors.As(he.Unwrap(), &oe) && oe.Code == code {
			return he, true
		}
	}
	return nil, false
}

// app is the Echo application under test; loadAndSave puts
// oidcecho5.LoadAndSave in front of every route.
func app(loadAndSave bool, log *errorLog) func(*oidcauth.Auth) http.Handler {
	return func(auth *oidcauth.Auth) http.Handler {
		e := echo.New()
		if log != nil {
			e.HTTPErrorHandler = log.handler()
		}
		if loadAndSave {
			e.Use(oidcecho5.LoadAndSave(auth))
		}
		e.GET("/callback", oidcecho5.Callback(auth))
		e.GET("/login", oidcecho5.Login(auth))
		e.POST("/logout", oidcecho5.Logout(auth))
		me := func(c *echo.Context) error {
			claims, ok := oidcecho5.Claims(c)
			if !ok {
				return echo.NewHTTPError(http.StatusInternalServerError, "no claims")
			}
			var own struct {
				Email string `json:"email"`
			}
			if err := oidcecho5.DecodeClaims(c, &own); err != nil {
				return err
			}
			raw, _ := oidcecho5.RawClaims(c)
			return c.JSON(http.StatusOK, map[string]any{"sub": claims.Subject, "email": own.Email, "raw": len(raw) > 0})
		}
		e.GET("/me", me, oidcecho5.Require(auth))
		api := e.Group("/api", oidcecho5.Require(auth))
		api.GET("/me", me)
		e.GET("/", func(c *echo.Context) error {
			if claims, ok := oidcecho5.Claims(c); ok {
				return c.String(http.StatusOK, "hello "+claims.Subject)
			}
			return c.String(http.StatusOK, "hello stranger")
		}, oidcecho5.Optional(auth))
		// /count uses the session for the application's own data.
		e.GET("/count", func(c *echo.Context) error {
			sm := auth.SessionManager()
			n := sm.GetInt(c.Request().Context(), "count") + 1
			sm.Put(c.Request().Context(), "count", n)
			return c.String(http.StatusOK, fmt.Sprint(n))
		}, oidcecho5.Require(auth))
		// /fail returns an error from a logged-in handler: Echo renders it
		// after the session was saved.
		e.GET("/fail", func(c *echo.Context) error {
			return echo.NewHTTPError(http.StatusConflict, "app error")
		}, oidcecho5.Require(auth))
		return e
	}
}

// each runs f with and without oidcecho5.LoadAndSave around the routes.
func each(t *testing.T, f func(t *testing.T, loadAndSave bool)) {
	for _, ls := range []bool{false, true} {
		t.Run(fmt.Sprintf("LoadAndSave=%v", ls), func(t *testing.T) {
			t.Parallel()
			f(t, ls)
		})
	}
}

// echoError checks that the body is what Echo's default error handler
// makes of an *echo.HTTPError whose message is oidcauth's description.
func echoError(t *testing.T, r response) {
	t.Helper()
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || !strings.HasPrefix(r.body, `{"message":"`) {
		t.Errorf("Content-Type %q, body %s; want Echo's JSON error", r.Header.Get("Content-Type"), r.body)
	}
}

func TestAnonymous(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		log := &errorLog{}
		s := newSite(t, app(loadAndSave, log))
		toProvider := func(t *testing.T, r response) {
			if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, s.op.Issuer+"/authorize?") {
				t.Errorf("Location %q, want the provider", loc)
			}
		}
		for _, tc := range []struct {
			name   string
			method string
			path   string
			header http.Header
			status int
			check  func(t *testing.T, r response)
		}{
			{"page redirects to the provider", "GET", "/me", browser, http.StatusFound, toProvider},
			{"API prefix gets 401", "GET", "/api/me", browser, http.StatusUnauthorized, func(t *testing.T, r response) {
				if r.body != `{"message":"You need to log in."}`+"\n" {
					t.Errorf("body %q", r.body)
				}
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "OIDC ") {
					t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
				}
			}},
			{"JSON client gets 401", "GET", "/me", api, http.StatusUnauthorized, echoError},
			{"optional serves strangers", "GET", "/", browser, http.StatusOK, func(t *testing.T, r response) {
				if r.body != "hello stranger" {
					t.Errorf("body %q", r.body)
				}
			}},
			{"login starts a login", "GET", "/login?return_to=/me", browser, http.StatusFound, toProvider},
			{"bad callback goes to Echo's error handler", "GET", "/callback?state=forged&code=x", browser, http.StatusBadRequest, echoError},
			{"cross-origin logout is refused", "POST", "/logout", http.Header{"Origin": {s.op.Issuer}, "Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.do(tc.method, tc.path, tc.header)
				if r.StatusCode != tc.status {
					t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.path, r.StatusCode, tc.status, r.body)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			})
		}
		for code, status := range map[string]int{"login_required": 401, "state_mismatch": 400} {
			if he, ok := log.find(code); !ok || he.Code != status {
				t.Errorf("Echo's error handler got no *echo.HTTPError %d for %s (%v)", status, code, he)
			}
		}
	})
}

func TestLoginLogout(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		s := newSite(t, app(loadAndSave, nil))
		s.login("/me")

		r := s.get("/me")
		if r.StatusCode != http.StatusOK || r.body != `{"email":"alice@example.com","raw":true,"sub":"alice"}`+"\n" {
			t.Fatalf("GET /me: %d %s", r.StatusCode, r.body)
		}
		// The idle timeout renews the session on every request: its cookie
		// must reach the response although Echo wrote the body.
		if !s.setsSession(r) {
			t.Errorf("GET /me did not renew the session cookie")
		}
		if r := s.do("GET", "/api/me", api); r.StatusCode != http.StatusOK {
			t.Errorf("GET /api/me: %d %s", r.StatusCode, r.body)
		}
		if r := s.get("/"); r.body != "hello alice" {
			t.Errorf("GET /: %q", r.body)
		}
		for want := 1; want <= 2; want++ {
			if r := s.get("/count"); r.body != fmt.Sprint(want) {
				t.Errorf("GET /count: %q, want %d", r.body, want)
			}
		}
		if r := s.get("/fail"); r.StatusCode != http.StatusConflict || r.body != `{"message":"app error"}`+"\n" || !s.setsSession(r) {
			t.Errorf("GET /fail: %d %s, cookie %v", r.StatusCode, r.body, s.setsSession(r))
		}

		r = s.logout()
		if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), s.op.Issuer+"/end_session?") {
			t.Fatalf("logout: %d to %q", r.StatusCode, r.Header.Get("Location"))
		}
		if r := s.do("GET", "/api/me", api); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /api/me after logout: %d %s", r.StatusCode, r.body)
		}
		if r := s.get("/"); r.body != "hello stranger" {
			t.Errorf("GET / after logout: %q", r.body)
		}
	})
}

// An ErrorHandler the application gives oidcauth answers every error;
// nothing reaches Echo's error handler.
func TestAppErrorHandlerWins(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		custom := oidcauth.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprintf(w, "custom %d %v", status, errors.Is(err, oidcauth.ErrNotLoggedIn))
		})
		log := &errorLog{}
		s := newSite(t, app(loadAndSave, log), custom)
		for _, tc := range []struct{ path, want string }{
			{"/api/me", "custom 401 true"},
			{"/callback?state=forged&code=x", "custom 400 false"},
		} {
			r := s.do("GET", tc.path, api)
			if r.StatusCode != http.StatusTeapot || r.body != tc.want {
				t.Errorf("GET %s: %d %q, want 418 %q", tc.path, r.StatusCode, r.body, tc.want)
			}
		}
		if len(log.errs) != 0 {
			t.Errorf("Echo's error handler got %v", log.errs)
		}
	})
}

// A core handler mounted directly behind the adapter's middleware still
// answers its errors through Echo's error handler.
func TestCoreHandlerBehindAdapter(t *testing.T) {
	log := &errorLog{}
	s := newSite(t, func(auth *oidcauth.Auth) http.Handler {
		e := echo.New()
		e.HTTPErrorHandler = log.handler()
		e.Use(oidcecho5.LoadAndSave(auth))
		e.GET("/callback", echo.WrapHandler(auth.CallbackHandler()))
		return e
	})
	r := s.do("GET", "/callback?state=forged&code=x", browser)
	if r.StatusCode != http.StatusBadRequest || !strings.HasPrefix(r.body, `{"message":`) {
		t.Errorf("GET /callback: %d %s", r.StatusCode, r.body)
	}
	if _, ok := log.find("state_mismatch"); !ok {
		t.Errorf("Echo's error handler did not render the error")
	}
}
