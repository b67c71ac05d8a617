package oidcecho5_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/labstack/echo/v5"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcecho5"
	"github.com/oidcauth/oidcauth/oidctest"
)

// An Echo v5 application whose /me page needs a login. The issuer, client and
// redirect URL come from the environment.
func Example() {
	auth, err := oidcauth.New(context.Background(), os.Getenv("OIDC_ISSUER"),
		oidcauth.WithClientID(os.Getenv("OIDC_CLIENT_ID")),
		oidcauth.WithClientSecret(os.Getenv("OIDC_CLIENT_SECRET")),
		oidcauth.WithRedirectURL("http://127.0.0.1:8080/callback"),
		oidcauth.WithAPIPrefix("/api/"),
	)
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(oidcecho5.LoadAndSave(auth))
	e.GET("/callback", oidcecho5.Callback(auth))
	e.GET("/login", oidcecho5.Login(auth))
	e.POST("/logout", oidcecho5.Logout(auth))
	e.POST("/backchannel-logout", oidcecho5.BackchannelLogout(auth))
	e.GET("/me", func(c *echo.Context) error {
		claims, _ := oidcecho5.Claims(c)
		return c.JSON(http.StatusOK, map[string]string{"sub": claims.Subject, "email": claims.Email})
	}, oidcecho5.Require(auth))
	api := e.Group("/api", oidcecho5.Require(auth))
	api.GET("/hello", func(c *echo.Context) error {
		claims, _ := oidcecho5.Claims(c)
		return c.JSON(http.StatusOK, map[string]string{"hello": claims.Name})
	})
	log.Fatal(e.Start("127.0.0.1:8080"))
}

// Optional greets a logged-in user by name and everyone else too.
func ExampleOptional() {
	var auth *oidcauth.Auth // from oidcauth.New

	e := echo.New()
	e.GET("/", func(c *echo.Context) error {
		if claims, ok := oidcecho5.Claims(c); ok {
			return c.String(http.StatusOK, "hello "+claims.Name)
		}
		return c.String(http.StatusOK, "hello stranger")
	}, oidcecho5.Optional(auth))
}

// DecodeClaims reads claims the provider adds into the application's own
// struct.
func ExampleDecodeClaims() {
	var auth *oidcauth.Auth // from oidcauth.New

	e := echo.New()
	e.GET("/groups", func(c *echo.Context) error {
		var claims struct {
			Groups []string `json:"groups"`
		}
		if err := oidcecho5.DecodeClaims(c, &claims); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, claims.Groups)
	}, oidcecho5.Require(auth))
}

// Require against the in-process test provider of package oidctest: an API
// request without a login gets 401 through Echo's HTTPErrorHandler, here
// one that shows oidcauth's error code; a page is redirected to the
// provider.
func ExampleRequire() {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	e := echo.New()
	app := httptest.NewServer(e)
	defer app.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(app.URL+"/callback"),
		oidcauth.WithAPIPrefix("/api/"),
	)
	if err != nil {
		log.Fatal(err)
	}
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed { // already answered, e.g. oidcauth's error page for a browser
			return
		}
		var oe *oidcauth.Error
		if he, ok := err.(*echo.HTTPError); ok && errors.As(err, &oe) {
			c.JSON(he.Code, map[string]any{"code": oe.Code, "message": he.Message})
			return
		}
		echo.DefaultHTTPErrorHandler(false)(c, err)
	}
	e.GET("/callback", oidcecho5.Callback(auth))
	e.GET("/me", func(c *echo.Context) error { return c.String(http.StatusOK, "secret page") }, oidcecho5.Require(auth))
	e.GET("/api/me", func(c *echo.Context) error { return c.String(http.StatusOK, "secret data") }, oidcecho5.Require(auth))

	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirects.Get(app.URL + "/api/me")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))

	resp, err = noRedirects.Get(app.URL + "/me")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location")[:len(op.Issuer)] == op.Issuer)
	// Output:
	// 401 {"code":"login_required","message":"You need to log in."}
	// 302 true
}
