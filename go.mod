module github.com/oidcauth/oidcauth

go 1.25.0
