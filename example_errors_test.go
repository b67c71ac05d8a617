package oidcauth_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidctest"
)

// The application's own error page for browsers, and oidcauth's JSON for
// API requests: the Error says which the request is, so the handler needs
// no reference to the Auth.
func ExampleWithErrorHandler() {
	page := template.Must(template.New("error").Parse(`<h1>Sorry</h1><p>{{.Description}}</p>`))
	errorPage := func(w http.ResponseWriter, r *http.Request, status int, err error) {
		var e *oidcauth.Error
		if !errors.As(err, &e) || e.API {
			oidcauth.DefaultErrorHandler(w, r, status, err) // JSON for APIs
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		page.Execute(w, e) // Description is safe to show; never show e.Err
	}

	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	auth, err := oidcauth.New(context.Background(), op.Issuer,
		oidcauth.WithClientID("client"), oidcauth.WithClientSecret("secret"),
		oidcauth.WithRedirectURL("https://app.example.com/callback"),
		oidcauth.WithErrorHandler(errorPage),
	)
	if err != nil {
		log.Fatal(err)
	}
	callback := auth.CallbackHandler()

	// A browser and a script each bring a callback with a state that was never issued.
	for _, accept := range []string{"text/html", "application/json"} {
		req := httptest.NewRequest("GET", "/callback?state=forged", nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		callback.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 400 <h1>Sorry</h1><p>This login link is invalid, expired or already used. Please start again.</p>
	// 400 {"error":"state_mismatch","error_description":"This login link is invalid, expired or already used. Please start again."}
}
