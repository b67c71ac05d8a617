package oidcgin_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcgin"
	"github.com/oidcauth/oidcauth/oidctest"
)

// A gin application whose /me page needs a login. The issuer, client and
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

	r := gin.Default()
	r.Use(oidcgin.LoadAndSave(auth))
	r.GET("/callback", oidcgin.Callback(auth))
	r.GET("/login", oidcgin.Login(auth))
	r.POST("/logout", oidcgin.Logout(auth))
	r.POST("/backchannel-logout", oidcgin.BackchannelLogout(auth))
	r.GET("/me", oidcgin.Require(auth), func(c *gin.Context) {
		claims, _ := oidcgin.Claims(c)
		c.JSON(http.StatusOK, gin.H{"sub": claims.Subject, "email": claims.Email})
	})
	api := r.Group("/api", oidcgin.Require(auth))
	api.GET("/hello", func(c *gin.Context) {
		claims, _ := oidcgin.Claims(c)
		c.JSON(http.StatusOK, gin.H{"hello": claims.Name})
	})
	log.Fatal(r.Run("127.0.0.1:8080"))
}

// Optional greets a logged-in user by name and everyone else too.
func ExampleOptional() {
	var auth *oidcauth.Auth // from oidcauth.New

	r := gin.New()
	r.GET("/", oidcgin.Optional(auth), func(c *gin.Context) {
		if claims, ok := oidcgin.Claims(c); ok {
			c.String(http.StatusOK, "hello %s", claims.Name)
			return
		}
		c.String(http.StatusOK, "hello stranger")
	})
}

// DecodeClaims reads claims the provider adds into the application's own
// struct.
func ExampleDecodeClaims() {
	var auth *oidcauth.Auth // from oidcauth.New

	r := gin.New()
	r.GET("/groups", oidcgin.Require(auth), func(c *gin.Context) {
		var claims struct {
			Groups []string `json:"groups"`
		}
		if err := oidcgin.DecodeClaims(c, &claims); err != nil {
			c.AbortWithError(http.StatusInternalServerError, err)
			return
		}
		c.JSON(http.StatusOK, claims.Groups)
	})
}

// Require against the in-process test provider of package oidctest: an API
// request without a login gets 401 in gin's JSON style, a page is
// redirected to the provider.
func ExampleRequire() {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	r := gin.New()
	app := httptest.NewServer(r)
	defer app.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL(app.URL+"/callback"),
		oidcauth.WithAPIPrefix("/api/"),
	)
	if err != nil {
		log.Fatal(err)
	}
	r.GET("/callback", oidcgin.Callback(auth))
	r.GET("/me", oidcgin.Require(auth), func(c *gin.Context) { c.String(http.StatusOK, "secret page") })
	r.GET("/api/me", oidcgin.Require(auth), func(c *gin.Context) { c.String(http.StatusOK, "secret data") })

	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirects.Get(app.URL + "/api/me")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	resp, err = noRedirects.Get(app.URL + "/me")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location")[:len(op.Issuer)] == op.Issuer)
	// Output:
	// 401 {"error":"login_required","error_description":"You need to log in."}
	// 302 true
}
