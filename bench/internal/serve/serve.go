// Package serve is how the load test's small servers (bench/floor,
// bench/app and bench/load's own targets) listen: on a free loopback port,
// announced as "load: NAME listening url=URL" on standard output, until
// SIGTERM or an interrupt.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Run listens, makes the handler with handler (given the context, ended at
// SIGTERM, and the server's base URL, http://127.0.0.1:PORT), announces the
// URL and serves until SIGTERM.
func Run(name string, handler func(ctx context.Context, base string) (http.Handler, error)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	h, err := handler(ctx, base)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(c)
	}()
	fmt.Printf("load: %s listening url=%s\n", name, base)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
