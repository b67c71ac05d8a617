package oidcgin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/internal/apptest"
	"github.com/oidcauth/oidcauth/oidcgin"
	"github.com/oidcauth/oidcauth/oidctest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// errorLog collects the errors gin's chain saw, as a logger would.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) middleware(c *gin.Context) {
	c.Next()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range c.Errors {
		l.errs = append(l.errs, e.Err)
	}
}

func (l *errorLog) has(target error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

// app is the gin application under test; loadAndSave puts
// oidcgin.LoadAndSave in front of every route.
func app(loadAndSave bool, log *errorLog) func(*oidcauth.Auth) http.Handler {
	return func(auth *oidcauth.Auth) http.Handler {
		r := gin.New()
		if log != nil {
			r.Use(log.middleware)
		}
		if loadAndSave {
			r.Use(oidcgin.LoadAndSave(auth))
		}
		r.GET("/callback", oidcgin.Callback(auth))
		r.GET("/login", oidcgin.Login(auth))
		r.POST("/logout", oidcgin.Logout(auth))
		r.POST("/backchannel-logout", oidcgin.BackchannelLogout(auth))
		me := func(c *gin.Context) {
			claims, ok := oidcgin.Claims(c)
			if !ok {
				c.String(http.StatusInternalServerError, "no claims")
				return
			}
			var own struct {
				Email string `json:"email"`
			}
			if err := oidcgin.DecodeClaims(c, &own); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			raw, _ := oidcgin.RawClaims(c)
			c.JSON(http.StatusOK, gin.H{"sub": claims.Subject, "email": own.Email, "raw": len(raw) > 0})
		}
		r.GET("/me", oidcgin.Require(auth), me)
		api := r.Group("/api", oidcgin.Require(auth))
		api.GET("/me", me)
		r.GET("/", oidcgin.Optional(auth), func(c *gin.Context) {
			if claims, ok := oidcgin.Claims(c); ok {
				c.String(http.StatusOK, "hello "+claims.Subject)
				return
			}
			c.String(http.StatusOK, "hello stranger")
		})
		// /count uses the session for the application's own data.
		r.GET("/count", oidcgin.Require(auth), func(c *gin.Context) {
			sm := auth.SessionManager()
			n := sm.GetInt(c.Request.Context(), "count") + 1
			sm.Put(c.Request.Context(), "count", n)
			c.String(http.StatusOK, "%d", n)
		})
		return r
	}
}

// each runs f with and without oidcgin.LoadAndSave around the routes.
func each(t *testing.T, f func(t *testing.T, loadAndSave bool)) {
	for _, ls := range []bool{false, true} {
		t.Run(fmt.Sprintf("LoadAndSave=%v", ls), func(t *testing.T) {
			t.Parallel()
			f(t, ls)
		})
	}
}

func TestAnonymous(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		log := &errorLog{}
		s := apptest.New(t, app(loadAndSave, log))
		ginJSON := func(code string) func(t *testing.T, r oidctest.Response) {
			return func(t *testing.T, r oidctest.Response) {
				if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type %q, want gin's JSON", ct)
				}
				var body map[string]string
				if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body["error"] != code || body["error_description"] == "" {
					t.Errorf("body %s, want error %q with a description", r.Body, code)
				}
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
			{"page redirects to the provider", "GET", "/me", oidctest.Navigation, http.StatusFound, func(t *testing.T, r oidctest.Response) {
				if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, s.OP.Issuer+"/authorize?") {
					t.Errorf("Location %q, want the provider", loc)
				}
			}},
			{"API prefix gets 401", "GET", "/api/me", oidctest.Navigation, http.StatusUnauthorized, func(t *testing.T, r oidctest.Response) {
				ginJSON("login_required")(t, r)
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="`) {
					t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
				}
			}},
			{"JSON client gets 401", "GET", "/me", oidctest.APICall, http.StatusUnauthorized, ginJSON("login_required")},
			{"optional serves strangers", "GET", "/", oidctest.Navigation, http.StatusOK, func(t *testing.T, r oidctest.Response) {
				if r.Body != "hello stranger" {
					t.Errorf("body %q", r.Body)
				}
			}},
			{"login starts a login", "GET", "/login?return_to=/me", oidctest.Navigation, http.StatusFound, func(t *testing.T, r oidctest.Response) {
				if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, s.OP.Issuer+"/authorize?") {
					t.Errorf("Location %q, want the provider", loc)
				}
			}},
			{"bad callback in a oidctest.Navigation gets a page", "GET", "/callback?state=forged&code=x", oidctest.Navigation, http.StatusBadRequest, func(t *testing.T, r oidctest.Response) {
				if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.Body, "state_mismatch") {
					t.Errorf("Content-Type %q, body %s; want the HTML error page", r.Header.Get("Content-Type"), r.Body)
				}
			}},
			{"bad callback from a script gets JSON", "GET", "/callback?state=forged&code=x", oidctest.APICall, http.StatusBadRequest, ginJSON("state_mismatch")},
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
		for _, kind := range []error{oidcauth.ErrNotLoggedIn, oidcauth.ErrStateMismatch} {
			if !log.has(kind) {
				t.Errorf("c.Errors never had %v", kind)
			}
		}
	})
}

func TestLoginLogout(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		s := apptest.New(t, app(loadAndSave, nil))
		s.Login("/me")

		r := s.Get("/me")
		if r.StatusCode != http.StatusOK || r.Body != `{"email":"alice@example.com","raw":true,"sub":"alice"}` {
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
			// oidctest.Response although gin wrote the body.
			if !r.SetsCookie(s.SessionCookie()) {
				t.Errorf("GET /count did not write the session cookie")
			}
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

// An ErrorHandler the application gives oidcauth answers every error,
// instead of the gin style.
func TestAppErrorHandlerWins(t *testing.T) {
	each(t, func(t *testing.T, loadAndSave bool) {
		custom := oidcauth.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprintf(w, "custom %d %v", status, errors.Is(err, oidcauth.ErrNotLoggedIn))
		})
		s := apptest.New(t, app(loadAndSave, nil), custom)
		for _, tc := range []struct{ path, want string }{
			{"/api/me", "custom 401 true"},
			{"/callback?state=forged&code=x", "custom 400 false"},
		} {
			r := s.Do("GET", tc.path, oidctest.APICall, nil)
			if r.StatusCode != http.StatusTeapot || r.Body != tc.want {
				t.Errorf("GET %s: %d %q, want 418 %q", tc.path, r.StatusCode, r.Body, tc.want)
			}
		}
	})
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
