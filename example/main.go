// Command example is a small web app protected by oidcauth: the one-command
// demo of the library.
//
//	go run ./example
//
// With no configuration it starts an embedded development provider (a login
// form that accepts any user name) and the app on http://127.0.0.1:8080/.
// Environment variables (config.go) point it at a real provider and a
// shared session store.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(2)
	}
	if err := run(cfg, log); err != nil {
		log.Error("example stopped", "err", err)
		os.Exit(1)
	}
}

// run serves the app until SIGINT or SIGTERM, then shuts down gracefully.
func run(cfg config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	cfg.Addr = ln.Addr().String() // the real port when ADDR asks for port 0
	app, err := newApp(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer app.Close()

	srv := &http.Server{
		Handler:           app.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second, // the callback calls the provider (10s timeout)
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if app.DevProvider {
		log.Info("development provider started: any user name and password log in", "issuer", app.Issuer, "provider", cfg.withDefaults().ProviderName)
	} else {
		log.Info("using the provider", "issuer", app.Issuer, "provider", cfg.withDefaults().ProviderName)
	}
	if s := cfg.Second; s != nil {
		log.Info("using a second provider", "issuer", s.Issuer, "provider", s.Name)
	}
	log.Info("example app listening: open it in a browser", "url", app.URL, "addr", cfg.Addr)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal ends the process at once
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
