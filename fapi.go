package oidcauth

import "slices"

// fapiAlgs are the signing algorithms FAPI 2.0 allows (Security Profile
// 5.4.1): for the provider's id_tokens, the client's assertions and its
// DPoP proofs.
var fapiAlgs = []string{"PS256", "ES256", "EdDSA"}

// WithFAPI2 makes the client follow the FAPI 2.0 Security Profile, as open
// banking and health providers require:
//   - every authorization request pushed (PAR, as WithPAR(true));
//   - PKCE with S256 (as always);
//   - the RFC 9207 iss parameter required on every authorization response;
//   - sender-constrained tokens (DPoP, as WithDPoP());
//   - private_key_jwt client authentication (WithClientKey), never a
//     client secret;
//   - id_tokens, client assertions and DPoP proofs signed with PS256, ES256
//     or EdDSA only: never RS256, HMAC or none.
//
// New fails, naming what to change, when the options or the provider
// cannot do all of that.
func WithFAPI2() Option {
	return func(c *config) error {
		c.fapi2 = true
		return nil
	}
}

// applyFAPI2 turns on what WithFAPI2 asks of the options and refuses what
// the profile forbids, before anything is fetched.
func applyFAPI2(cfg *config) error {
	if !cfg.fapi2 {
		return nil
	}
	switch {
	case cfg.clientSecret != "":
		return optionError("WithFAPI2", "FAPI 2.0 forbids client secrets: remove WithClientSecret and authenticate with WithClientKey (private_key_jwt)")
	case len(cfg.clientKeys) == 0:
		return optionError("WithFAPI2", "FAPI 2.0 needs key-based client authentication: add WithClientKey (private_key_jwt)")
	case cfg.authMethod != "" && cfg.authMethod != AuthMethodPrivateKeyJWT:
		return optionError("WithFAPI2", "FAPI 2.0 allows private_key_jwt client authentication, not %s (WithClientAuth)", cfg.authMethod)
	case cfg.par == parNever:
		return optionError("WithFAPI2", "FAPI 2.0 pushes every authorization request: remove WithPAR(false)")
	}
	for _, alg := range cfg.dpopAlgs {
		if !slices.Contains(fapiAlgs, alg) {
			return optionError("WithFAPI2", "FAPI 2.0 allows DPoP proofs signed with %v, not %s (WithDPoP)", fapiAlgs, alg)
		}
	}
	cfg.par, cfg.dpop = parAlways, true
	return nil
}

// checkFAPI2 refuses a provider, or a client key, that cannot follow the
// profile, and keeps only the id_token algorithms it allows.
func (p *provider) checkFAPI2(cfg *config) error {
	if !cfg.fapi2 {
		return nil
	}
	if !p.meta.IssParameterSupported {
		return optionError("WithFAPI2", "the provider does not say authorization_response_iss_parameter_supported (RFC 9207), which FAPI 2.0 requires (Endpoints.IssParameter when given by hand)")
	}
	var algs []string
	for _, alg := range p.signingAlgs {
		if slices.Contains(fapiAlgs, alg) {
			algs = append(algs, alg)
		}
	}
	if len(algs) == 0 {
		return optionError("WithFAPI2", "the provider signs id_tokens with %v only; FAPI 2.0 allows %v", p.signingAlgs, fapiAlgs)
	}
	p.signingAlgs = algs
	if alg := string(p.clientKeys.alg); !slices.Contains(fapiAlgs, alg) {
		return optionError("WithFAPI2", "the client key would sign its assertions with %s, which FAPI 2.0 forbids: use an EC P-256 or Ed25519 key, or a provider that takes PS256 (token_endpoint_auth_signing_alg_values_supported)", alg)
	}
	return nil
}
