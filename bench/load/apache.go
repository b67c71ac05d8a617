package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// apacheModules is where Debian's apache2 keeps its modules.
const apacheModules = "/usr/lib/apache2/modules"

// apacheConf is a whole Apache configuration: the event MPM, one process
// (pinned like the others; its threads take the connections), keep-alive
// without a limit on requests per connection (as the Go servers), and
// mod_auth_openidc with server-side sessions in shared memory, its idle
// timeout oidcauth's default. The protected location answers the claims
// JSON as a static file.
const apacheConf = `ServerRoot {{dir}}
ServerName 127.0.0.1
Listen 127.0.0.1:{{port}}
PidFile {{dir}}/httpd.pid
ErrorLog /dev/stderr
LogLevel notice auth_openidc:warn
{{user}}
LoadModule mpm_event_module {{mods}}/mod_mpm_event.so
LoadModule authn_core_module {{mods}}/mod_authn_core.so
LoadModule authz_core_module {{mods}}/mod_authz_core.so
LoadModule authz_user_module {{mods}}/mod_authz_user.so
LoadModule auth_openidc_module {{mods}}/mod_auth_openidc.so
StartServers 1
ServerLimit 1
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot {{dir}}/htdocs

OIDCProviderMetadataURL {{issuer}}/.well-known/openid-configuration
OIDCClientID client
OIDCClientSecret secret
OIDCRedirectURI http://127.0.0.1:{{port}}/redirect_uri
OIDCCryptoPassphrase {{passphrase}}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCSessionType server-cache
OIDCCacheType shm
OIDCSessionInactivityTimeout 1800
OIDCSessionMaxDuration 28800

<Location />
	AuthType openid-connect
	Require valid-user
</Location>
<Files "me">
	ForceType application/json
</Files>
`

// startApache starts Apache with mod_auth_openidc against the provider at
// issuer. It returns nil, "why" when apache2 or the module is missing.
func startApache(ctx context.Context, pin pinning, dir, issuer string) (*server, string, error) {
	bin, err := exec.LookPath("apache2")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/apache2"); e != nil {
			return nil, "apache2 is not installed (apt-get install apache2 libapache2-mod-auth-openidc)", nil
		}
		bin = "/usr/sbin/apache2"
	}
	if _, err := os.Stat(filepath.Join(apacheModules, "mod_auth_openidc.so")); err != nil {
		return nil, "mod_auth_openidc is not installed (apt-get install libapache2-mod-auth-openidc)", nil
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	// Apache takes relative paths as relative to its own ServerRoot.
	if dir, err = filepath.Abs(filepath.Join(dir, "apache")); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		return nil, "", err
	}
	// Apache refuses to serve as root: its workers become nobody, who
	// must read the documents.
	userLine := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, "", fmt.Errorf("running as root and there is no user nobody for Apache's workers")
		}
		g := "nogroup"
		if gr, err := user.LookupGroupId(u.Gid); err == nil {
			g = gr.Name
		}
		userLine = "User nobody\nGroup " + g
		for _, d := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "htdocs")} {
			os.Chmod(d, 0o755)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "htdocs", "me"), []byte(claimsJSON), 0o644); err != nil {
		return nil, "", err
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", strconv.Itoa(port), "{{mods}}", apacheModules,
		"{{issuer}}", issuer, "{{passphrase}}", hex.EncodeToString(secret), "{{user}}", userLine).Replace(apacheConf)
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	// -e info makes Apache log a line once it has started.
	argv := pin.command(pin.serverCPU, bin, "-f", confPath, "-DFOREGROUND", "-e", "info")
	s, err := startServer(ctx, "apache2", argv, []string{"APACHE_LOG_DIR=" + dir},
		filepath.Join(dir, "stderr.log"), regexp.MustCompile(`(resuming normal operations|AH00489)`))
	if s != nil {
		s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	return s, "", err
}

// apacheVersion is "Apache/2.4.x, mod_auth_openidc 2.4.x" from dpkg, or "".
func apacheVersion() string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version} ", "apache2", "libapache2-mod-auth-openidc").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return ""
	}
	return "Apache " + f[0] + ", mod_auth_openidc " + f[1]
}
