package oidcecho_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/internal/apptest"
	"github.com/oidcauth/oidcauth/oidcecho"
	"github.com/oidcauth/oidcauth/oidctest"
)

// errorLog is an Echo HTTPErrorHandler that records the errors it renders
// and then renders them as Echo's default handler does.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handler(e *echo.Echo) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
		e.DefaultHTTPErrorHandler(err, c)
	}
}

// reset forgets the errors recorded so far.
func (l *errorLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = nil
}

// find returns the oidcauth error of the given code that Echo's error
// handler rendered, as an *echo.HTTPError.
func (l *errorLog) find(code string) (*echo.HTTPError, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		var he *echo.HTTPError
		var oe *oidcauth.Error
		if errors.As(err, &he) && errors.As(he.Internal, &oe) && oe.Code == code {
			return he, true
		}
	}
	return nil, false
}

// app is the Echo application under test; loadAndSave puts
// oidcecho.LoadAndSave in front of every route.
func app(loadAndSave bool, log *errorLog) func(*oidcauth.Auth) http.Handler {
	return func(auth *oidcauth.Auth) http.Handler {
		e := echo.New()
		if log != nil {
			e.HTTPErrorHandler = log.handler(e)
		}
		if loadAndSave {
			e.Use(oidcecho.LoadAndSave(auth))
		}
		e.GET("/callback", oidcecho.Callback(auth))
		e.GET("/login", oidcecho.Login(auth))
		e.POST("/logout", oidcecho.Logout(auth))
		e.POST("/backchannel-logout", oidcecho.BackchannelLogout(auth))
		me := func(c echo.Context) error {
			claims, ok := oidcecho.Claims(c)
			if !ok {
				return echo.NewHTTPError(http.StatusInternalServerError, "no claims")
			}
			var own struct {
				Email string `json:"email"`
			}
			if err := oidcecho.DecodeClaims(c, &own); err != nil {
				return err
			}
			raw, _ := oidcecho.RawClaims(c)
			return c.JSON(http.StatusOK, map[string]any{"sub": claims.Subject, "email": own.Email, "raw": len(raw) > 0})
		}
		e.GET("/me", me, oidcecho.Require(auth))
		api := e.Group("/api", oidcecho.Require(auth))
		api.GET("/me", me)
		e.GET("/", func(c echo.Context) error {
			if claims, ok := oidcecho.Claims(c); ok {
				return c.String(http.StatusOK, "hello "+claims.Subject)
			}
			return c.String(http.StatusOK, "hello stranger")
		}, oidcecho.Optional(auth))
		// /count uses the session for the application's own data.
		e.GET("/count", func(c echo.Context) error {
			sm := auth.SessionManager()
			n := sm.GetInt(c.Request().Context(), "count") + 1
			sm.Put(c.Request().Context(), "count", n)
			return c.String(http.StatusOK, fmt.Sprint(n))
		}, oidcecho.Require(auth))
		// /fail returns an error from a logged-in handler: Echo renders it
		// after the session was saved.
		e.GET("/fail", func(c echo.Context) error {
			auth.SessionManager().Put(c.Request().Context(), "failed", true)
			return echo.NewHTTPError(http.StatusConflict, "app error")
		}, oidcecho.Require(auth))
		return e
	}
}

// each runs f with and without oidcecho.LoadAndSave around the routes.
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
func echoError(t *testing.T, r oidctest.Response) {
	t.Helper()
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || !strings.HasPrefix(r.Body, `{"message":"`) {
		t.Errorf("Content-Type %q, body %s; want Echo's JSON error", r.Header.Get("Content-Type"), r.Body)
	}
}

// oidcauthPage checks that the body is oidcauth's HTML error page for
// code, and nothing but it: Echo's error handler wrote nothing after it.
func oidcauthPage(code string) func(t *testing.T, r oidctest.Response) {
	return func(t *testing.T, r oidctest.Response) {
		t.Helper()
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(r.Body, "<code>"+code+"</code>") || !strings.HasSuffix(r.Body, "</html>\n") {
			t.Errorf("Content-Type %q, body %s; want oidcauth's error page for %s", r.Header.Get("Content-Type"), r.Body, code)
		}
	}
}

func TestAnonymous(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		log := &errorLog{}
		s := apptest.New(t, app(loadAndSave, log))
		toProvider := func(t *testing.T, r oidctest.Response) {
			if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, s.OP.Issuer+"/authorize?") {
				t.Errorf("Location %q, want the provider", loc)
			}
		}
		for _, tc := range []struct {
			name   string
			method string
			path   string
			header http.Header
			status int
			check  func(t *testing.T, r oidctest.Response)
		}{
			{"page redirects to the provider", "GET", "/me", oidctest.Navigation, http.StatusFound, toProvider},
			{"API prefix gets 401", "GET", "/api/me", oidctest.Navigation, http.StatusUnauthorized, func(t *testing.T, r oidctest.Response) {
				if r.Body != `{"message":"You need to log in."}`+"\n" {
					t.Errorf("body %q", r.Body)
				}
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="`) {
					t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
				}
			}},
			{"JSON client gets 401", "GET", "/me", oidctest.APICall, http.StatusUnauthorized, echoError},
			{"optional serves strangers", "GET", "/", oidctest.Navigation, http.StatusOK, func(t *testing.T, r oidctest.Response) {
				if r.Body != "hello stranger" {
					t.Errorf("body %q", r.Body)
				}
			}},
			{"login starts a login", "GET", "/login?return_to=/me", oidctest.Navigation, http.StatusFound, toProvider},
			{"cross-origin logout is refused", "POST", "/logout", http.Header{"Origin": {s.OP.Issuer}, "Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Do(tc.method, tc.path, tc.header, nil)
				if r.StatusCode != tc.status {
					t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.path, r.StatusCode, tc.status, r.Body)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			})
		}
		if he, ok := log.find("login_required"); !ok || he.Code != http.StatusUnauthorized {
			t.Errorf("Echo's error handler got no *echo.HTTPError 401 for login_required (%v)", he)
		}
	})
}

// A failed callback: a browser gets oidcauth's HTML error page, a script
// Echo's JSON; Echo's error handler gets the *echo.HTTPError either way.
func TestFailedCallback(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		for _, tc := range []struct {
			name   string
			header http.Header
			check  func(t *testing.T, r oidctest.Response)
		}{
			{"browser navigation", oidctest.Navigation, oidcauthPage("state_mismatch")},
			{"API request", oidctest.APICall, echoError},
		} {
			t.Run(tc.name, func(t *testing.T) {
				log := &errorLog{}
				s := apptest.New(t, app(loadAndSave, log))
				r := s.Do("GET", "/callback?state=forged&code=x", tc.header, nil)
				if r.StatusCode != http.StatusBadRequest {
					t.Fatalf("GET /callback: %d %s, want 400", r.StatusCode, r.Body)
				}
				tc.check(t, r)
				if he, ok := log.find("state_mismatch"); !ok || he.Code != http.StatusBadRequest {
					t.Errorf("Echo's error handler got no *echo.HTTPError 400 for state_mismatch (%v)", he)
				}
			})
		}
	})
}

func TestLoginLogout(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		s := apptest.New(t, app(loadAndSave, nil))
		s.Login("/me")

		r := s.Get("/me")
		if r.StatusCode != http.StatusOK || r.Body != `{"email":"alice@example.com","raw":true,"sub":"alice"}`+"\n" {
			t.Fatalf("GET /me: %d %s", r.StatusCode, r.Body)
		}
		if r := s.Do("GET", "/api/me", oidctest.APICall, nil); r.StatusCode != http.StatusOK {
			t.Errorf("GET /api/me: %d %s", r.StatusCode, r.Body)
		}
		if r := s.Get("/"); r.Body != "hello alice" {
			t.Errorf("GET /: %q", r.Body)
		}
		for want := 1; want <= 2; want++ {
			r := s.Get("/count")
			if r.Body != fmt.Sprint(want) {
				t.Errorf("GET /count: %q, want %d", r.Body, want)
			}
			// /count writes the session: its cookie must reach the
			// oidctest.Response although Echo wrote the body.
			if !r.SetsCookie(s.SessionCookie()) {
				t.Errorf("GET /count did not write the session cookie")
			}
		}
		if r := s.Get("/fail"); r.StatusCode != http.StatusConflict || r.Body != `{"message":"app error"}`+"\n" || !r.SetsCookie(s.SessionCookie()) {
			t.Errorf("GET /fail: %d %s, cookie %v", r.StatusCode, r.Body, r.SetsCookie(s.SessionCookie()))
		}

		r = s.Post("/logout", nil)
		if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), s.OP.Issuer+"/end_session?") {
			t.Fatalf("logout: %d to %q", r.StatusCode, r.Header.Get("Location"))
		}
		if r := s.Do("GET", "/api/me", oidctest.APICall, nil); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /api/me after logout: %d %s", r.StatusCode, r.Body)
		}
		if r := s.Get("/"); r.Body != "hello stranger" {
			t.Errorf("GET / after logout: %q", r.Body)
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
		s := apptest.New(t, app(loadAndSave, log), custom)
		for _, tc := range []struct {
			path   string
			header http.Header
			want   string
		}{
			{"/api/me", oidctest.APICall, "custom 401 true"},
			{"/callback?state=forged&code=x", oidctest.APICall, "custom 400 false"},
			{"/callback?state=forged&code=x", oidctest.Navigation, "custom 400 false"},
		} {
			r := s.Do("GET", tc.path, tc.header, nil)
			if r.StatusCode != http.StatusTeapot || r.Body != tc.want {
				t.Errorf("GET %s (Accept %s): %d %q, want 418 %q", tc.path, tc.header.Get("Accept"), r.StatusCode, r.Body, tc.want)
			}
		}
		if len(log.errs) != 0 {
			t.Errorf("Echo's error handler got %v", log.errs)
		}
	})
}

// A core handler mounted directly behind the adapter's middleware answers
// its errors as the adapter's own handlers do: a page for browsers, Echo's
// JSON for scripts, and the error to Echo's error handler either way.
func TestCoreHandlerBehindAdapter(t *testing.T) {
	log := &errorLog{}
	s := apptest.New(t, func(auth *oidcauth.Auth) http.Handler {
		e := echo.New()
		e.HTTPErrorHandler = log.handler(e)
		e.Use(oidcecho.LoadAndSave(auth))
		e.GET("/callback", echo.WrapHandler(auth.CallbackHandler()))
		return e
	})
	for _, tc := range []struct {
		name   string
		header http.Header
		check  func(t *testing.T, r oidctest.Response)
	}{
		{"navigation", oidctest.Navigation, oidcauthPage("state_mismatch")},
		{"API call", oidctest.APICall, echoError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.reset()
			r := s.Do("GET", "/callback?state=forged&code=x", tc.header, nil)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("GET /callback: %d %s", r.StatusCode, r.Body)
			}
			tc.check(t, r)
			if _, ok := log.find("state_mismatch"); !ok {
				t.Errorf("Echo's error handler did not get the error")
			}
		})
	}
}

// A logout token from the provider ends the session.
func TestBackchannelLogout(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		s := apptest.New(t, app(loadAndSave, nil))
		s.Login("/me")
		if r := s.PostLogoutToken("/backchannel-logout", "alice"); r.StatusCode != http.StatusOK {
			t.Fatalf("back-channel logout: %d %s", r.StatusCode, r.Body)
		}
		if r := s.Do("GET", "/api/me", oidctest.APICall, nil); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /api/me after back-channel logout: %d %s", r.StatusCode, r.Body)
		}
		if r := s.PostLogoutToken("/backchannel-logout", ""); r.StatusCode != http.StatusBadRequest {
			t.Errorf("a logout token without sub or sid: %d %s", r.StatusCode, r.Body)
		}
	})
}
