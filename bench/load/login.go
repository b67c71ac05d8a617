package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// formAction finds the development provider's login form.
var formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// login plays a browser: GET start, follow the redirects to the provider and
// back, post the provider's login form (as user) if it shows one, and stop
// at the first 200 of the app. It returns the Cookie header the browser
// then sends to the app.
func login(ctx context.Context, start, user string) (string, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	app, err := url.Parse(start)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	for step := 0; step < 10; step++ {
		// What a browser sends: mod_auth_openidc answers 401 to a request
		// that does not accept HTML instead of redirecting it to log in.
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		here := resp.Request.URL
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			next, err := here.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		case resp.StatusCode == http.StatusOK && here.Host == app.Host:
			var parts []string
			for _, c := range jar.Cookies(app) {
				parts = append(parts, c.Name+"="+c.Value)
			}
			if len(parts) == 0 {
				return "", errors.New("logged in, but the app set no cookie")
			}
			return strings.Join(parts, "; "), nil
		case resp.StatusCode == http.StatusOK && formAction.Match(b):
			if user == "" {
				return "", fmt.Errorf("%s shows a login form, but no user was given", here)
			}
			action, err := here.Parse(html.UnescapeString(string(formAction.FindSubmatch(b)[1])))
			if err != nil {
				return "", err
			}
			form := url.Values{"login": {user}, "password": {"dev"}}
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			return "", fmt.Errorf("%s %s: status %d: %.200s", req.Method, here, resp.StatusCode, b)
		}
	}
	return "", errors.New("no page of the app after 10 steps")
}

// checkTarget sends one request as wrk will and checks its answer.
func checkTarget(ctx context.Context, t *target) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	req.Header.Set("Cookie", t.Cookie)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err := t.Check(resp.StatusCode, string(b)); err != nil {
		return fmt.Errorf("%s: GET %s with the session cookie: %w", t.Name, t.URL, err)
	}
	return nil
}

// seedCookie creates a floor target's session (GET /seed) and returns its
// Cookie header.
func seedCookie(ctx context.Context, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/seed", nil)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if resp.StatusCode != http.StatusOK || len(cs) != 1 {
		return "", fmt.Errorf("GET /seed: status %d, %d cookies; want 200 and the session cookie", resp.StatusCode, len(cs))
	}
	return cs[0].Name + "=" + cs[0].Value, nil
}
