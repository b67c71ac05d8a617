#!/usr/bin/env python3
"""Removes each security defense in turn, in a scratch copy of the tree, and
checks that the test SECURITY.md names for it fails. Run from the repository
root: python3 .ci/mutation-check.py [FILTER...]. Prints one line a defense
and exits 1 if any test still passes without its defense. FILTERs keep only
the defenses whose file or test name contains one of them."""
import os, shutil, subprocess, sys, tempfile

filters = sys.argv[1:]  # optional: run only the defenses whose file or test contains one
root = os.getcwd()
scratch = tempfile.mkdtemp(prefix="oidcauth-mut-")
subprocess.run(f"git ls-files -z | xargs -0 -I{{}} cp --parents {{}} {scratch}", shell=True, check=True, cwd=root)
os.chdir(scratch)
muts = [
 ("liveness.go", "case errors.Is(err, ErrNotLoggedIn):", "case false:", "TestLongRequestCannotRevive"),
 ("liveness.go", "if e != nil && now.UnixNano()-e.checked.Load() < int64(a.liveness) {", "if false {", "TestLivenessChecksAreSpaced"),
 ("stepup.go", "if age := time.Since(at); age > maxAge+a.clockSkew {", "if age := time.Since(at); false {", "TestRequestedAuthenticationIsEnforced/max_age,_auth_time_too_old"),
 ("stepup.go", "if len(acr) > 0 && !slices.Contains(acr, extra.ACR) {", "if false {", "TestRequestedAuthenticationIsEnforced/acr_values,_another_acr"),
 ("verify.go", "if nbf := extra.NotBefore.time(); !nbf.IsZero() && nbf.After(time.Now().Add(a.clockSkew)) {", "if false {", "TestIDTokenVerification/nbf_beyond_the_clock_skew"),
 ("logout.go", "a.redeleteLater(ended)", "_ = ended", "TestEndedSessionIsDeletedAgain/RP-initiated_logout"),
 ("verify.go", 'if extra.AuthorizedParty != "" && extra.AuthorizedParty != a.clientID {', 'if false {', "TestIDTokenVerification/azp_of_another_client"),
 ("verify.go", 'if len(idt.Audience) > 1 && extra.AuthorizedParty == "" {', 'if false {', "TestIDTokenVerification/several_aud,_no_azp"),
 ("verify.go", 'if extra.IssuedAt == nil || idt.IssuedAt.IsZero() {', 'if false {', "TestIDTokenVerification/missing_iat"),
 ("verify.go", 'if idt.IssuedAt.After(time.Now().Add(a.clockSkew)) {', 'if false {', "TestIDTokenVerification/iat_in_the_future"),
 ("verify.go", 'if idt.Subject == "" {', 'if false {', "TestIDTokenVerification/missing_sub"),
 ("verify.go", 'if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.Nonce)) != 1 {', 'if false {', "TestIDTokenVerification/wrong_nonce"),
 ("verify.go", 'if err := idt.VerifyAccessToken(accessToken); err != nil {', 'if false {', "TestIDTokenVerification/wrong_at_hash"),
 ("callback.go", 'if time.Since(time.Unix(p.Created, 0)) > pendingTTL {', 'if false {', "TestCallbackRejectsBadState/expired_state"),
 ("callback.go", 'if (p.hasIss || a.meta.IssParameterSupported) && subtle.ConstantTimeCompare([]byte(p.iss), []byte(a.issuer)) != 1 {', 'if false {', "TestIssuerParameter"),
 ("callback.go", 'if len(vs) != 1 {', 'if false {', "TestCallbackMalformedParameters/repeated_state"),
 ("callback.go", 'if err := a.sm.RenewToken(ctx); err != nil {', 'if false {', "TestSessionRenewedAtLogin"),
 ("returnto.go", 'return !strings.Contains(path, "//")', 'return true', "TestSafeReturnTo"),
 ("jwks.go", 'if time.Since(last) < k.interval {', 'if false {', "TestUnknownKeyIDsAreRateLimited"),
 ("jwks.go", 'if time.Since(last) < k.interval {', 'if false {', "TestKeyRotationRightAfterStart"),
 ("jwks.go", 'if pub.N.BitLen() < minRSABits {', 'if false {', "TestParseKeySet"),
 ("logout.go", 'if err := a.checkSameOrigin(r); err != nil {', 'if err := a.checkSameOrigin(r); false && err != nil {', "TestLogoutRefusals"),
 ("site.go", 'return fmt.Errorf("%w: Sec-Fetch-Site is %q", errCrossOrigin, printable(sfs, 40))', 'return nil', "TestLogoutRefusals/cross-site_POST"),
 ("site.go", 'return fmt.Errorf("%w: Sec-Fetch-Site is %q", errCrossOrigin, printable(sfs, 40))', '_ = sfs', "TestLogoutRefusals/cross-site_fetch_metadata,_own_Origin"),
 ("site.go", 'canonicalOrigin(o) == a.site.origin {', 'canonicalOrigin(o) != "" {', "TestLogoutRefusals/cross-origin_POST,_no_fetch_metadata"),
 ("site.go", 'canonicalOrigin(o) == a.site.origin {', 'strings.EqualFold(o.Host, r.Host) {', "TestLogoutRefusals/Origin_of_the_Host,_not_the_redirect_URL's"),
 ("postlogout.go", 'subtle.ConstantTimeCompare([]byte(state), []byte(c.Value)) == 1:', 'true:', "TestPostLogoutWrongState/wrong_state"),
 ("postlogout.go", 'a.setLogoutCookie(w, "", -1)\n\t\t\ta.log.Info', 'a.log.Info', "TestPostLogoutWrongState/wrong_state"),
 ("site.go", 'if now-last < int64(hostWarningEvery) || !a.site.lastHostWarning.CompareAndSwap(last, now) {', 'if !a.site.lastHostWarning.CompareAndSwap(last, now) {', "TestLoginOnAnotherHost"),
 ("provider.go", 'if slices.Contains(asymmetricAlgs, a) {', 'if true {', "TestNewRejectsBadOptions/only_HMAC_id_tokens"),
 ("provider.go", 'if m.Issuer != issuer {', 'if false {', "TestNewRejectsBadOptions/issuer_differs_from_discovery"),
 ("logout.go", 'if err := a.deleteTokens(ctx, l); err != nil {', 'if false {', "TestLogout"),
 ("errors.go", 'h.Set("X-Frame-Options", "DENY")', '', "TestCallbackHeaders"),
 ("middleware.go", 'if r.Method != http.MethodGet && r.Method != http.MethodHead {\n\t\treturn true', 'if false {\n\t\treturn true', "TestAnonymousRequests"),
 ("refresh.go", 'if idt.Subject != l.Subject {', 'if false {', "TestRefreshedIDToken/another_sub"),
 ("refresh.go", 'if err := a.verifyRefreshedIDToken(ctx, l, raw, tok.AccessToken); err != nil {', 'if false {', "TestRefreshedIDToken/bad_signature"),
 ("refresh.go", '_, err = parseClaims(payload)', '_ = payload', "TestRefreshedIDToken/claims_that_do_not_parse"),
 ("refresh.go", 'return !now.Add(leeway).Before(ts.Expiry)', 'return false', "TestTokenRefreshesWhenExpiring/expired"),
 ("refresh.go", 'next.RefreshToken = tok.RefreshToken', '_ = tok', "TestRefreshTokenRotation"),
 ("refresh.go", 'ch := a.tokens.flights.DoChan(l.ID, func() (any, error) {', 'ch := a.tokens.flights.DoChan(random(8), func() (any, error) {', "TestRefreshSingleFlight"),
 ("refresh.go", 'if !a.needsRefresh(cur, refused, time.Now()) {\n\t\t\treturn cur, nil', 'if false {\n\t\t\treturn cur, nil', "TestRefreshRereadsTheRecord/in_the_flight"),
 ("refresh.go", 'if !a.needsRefresh(cur, refused, time.Now()) {\n\t\treturn cur, nil', 'if false {\n\t\treturn cur, nil', "TestRefreshRereadsTheRecord/under_the_lease"),
 ("refresh.go", 'if newer := a.awaitNewer(ctx, l, cur); newer != nil {', 'if newer := (*tokenSet)(nil); newer != nil {', "TestRefreshRaceAcrossInstances"),
 ("lease.go", 'if !taken {\n\t\t\treturn nil, errLeaseHeld', 'if false {\n\t\t\treturn nil, errLeaseHeld', "TestRefreshLeaseAcrossInstances"),
 ("lease.go", 'if back, _, err := a.storeFind(ctx, key); err != nil || !bytes.Equal(back, value) {', 'if back, _, err := a.storeFind(ctx, key); err != nil || back == nil {', "TestBestEffortLease"),
 ("refresh.go", 'return re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_request" && status == http.StatusBadRequest', 'return re.ErrorCode == "invalid_grant"', "TestRefreshRefused/invalid_request,_as_Dex_refuses_a_dead_refresh_token"),
 ("refresh.go", 'if errors.Is(err, errLeaseHeld) {', 'if false {', "TestRefreshLeaseHolderCrashed"),
 ("lease.go", 'if !time.Now().Before(deadline) {\n\t\t\treturn refreshError(', 'if false {\n\t\t\treturn refreshError(', "TestRefreshLeaseWaitIsBounded"),
 ("lease.go", 'if !time.Now().Before(deadline) {\n\t\t\treturn nil, err', 'if true {\n\t\t\treturn nil, err', "TestRefreshSurvivesAStoreOutage"),
 ("refresh.go", 'a.sm.Remove(ctx, sessionKey)', '', "TestRefreshRefused"),
 ("tokens.go", 'CheckRedirect: sameOriginRedirects,', '', "TestClient"),
 ("userinfo.go", 'if sub != subject {', 'if false {', "TestUserInfoRefusals/another_sub"),
 ("userinfo.go", 'if sub != subject {', 'if false {', "TestUserInfoClaimsAtLoginRefused/another_sub"),
 ("userinfo.go", 'if !slices.Contains(idTokenOnlyClaims, k) {', 'if true {', "TestUserInfoClaimsAtLogin"),
 ("backchannel.go", 'if err := checkLogoutTyp(raw); err != nil {', 'if err := checkLogoutTyp(raw); false {', "TestBackchannelLogoutRefusals/typ_of_an_access_token"),
 ("backchannel.go", 'case !ok:\n\t\treturn nil, refuse("the logout token has no iat", nil)', 'case !ok:\n\t\tiat = now', "TestBackchannelLogoutRefusals/missing_iat"),
 ("backchannel.go", 'case iat.After(now.Add(a.clockSkew)):', 'case false:', "TestBackchannelLogoutRefusals/iat_in_the_future"),
 ("backchannel.go", 'case ok && exp.Before(now.Add(-a.clockSkew)):', 'case false:', "TestBackchannelLogoutRefusals/expired"),
 ("backchannel.go", 'case !ok && iat.Before(now.Add(-logoutTokenMaxAge-a.clockSkew)):', 'case false:', "TestBackchannelLogoutRefusals/no_exp_and_an_old_iat"),
 ("backchannel.go", 'ok && nbf.After(now.Add(a.clockSkew))', 'ok && nbf.IsZero()', "TestBackchannelLogoutRefusals/nbf_in_the_future"),
 ("backchannel.go", 'if err != nil || azp != "" && azp != a.clientID {', 'if err != nil {', "TestBackchannelLogoutRefusals/azp_of_another_client"),
 ("backchannel.go", 'if len(idt.Audience) > 1 && azp == "" {', 'if false {', "TestBackchannelLogoutRefusals/several_audiences,_no_azp"),
 ("backchannel.go", 'if !isJSONObject(events[backchannelLogoutEvent]) {', 'if false {', "TestBackchannelLogoutRefusals/events_without_the_logout_event"),
 ("backchannel.go", 'if !isJSONObject(events[backchannelLogoutEvent]) {', 'if events[backchannelLogoutEvent] == nil {', "TestBackchannelLogoutRefusals/logout_event_not_an_object"),
 ("backchannel.go", 'if _, ok := c["nonce"]; ok {', 'if false {', "TestBackchannelLogoutRefusals/with_an_empty_nonce"),
 ("backchannel.go", 'err != nil || lt.jti == "" || len(lt.jti) > maxJTI', 'err != nil', "TestBackchannelLogoutRefusals/missing_jti"),
 ("backchannel.go", 'if lt.sub == "" && lt.sid == "" {', 'if false {', "TestBackchannelLogoutRefusals/neither_sid_nor_sub"),
 ("backchannel.go", 'if lt.sid == "" && a.sidRequired {', 'if false {', "TestBackchannelLogoutRefusals/session_required,_no_sid"),
 ("backchannel.go", 'lt.sub != "" && slices.ContainsFunc(', 'false && slices.ContainsFunc(', "TestBackchannelLogoutRefusals/sid_of_another_subject"),
 ("backchannel.go", 'if seen {', 'if seen && false {', "TestBackchannelLogoutRefusals/replayed_jti"),
 ("backchannel.go", 'r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequest)', '', "TestBackchannelLogoutMalformedRequests/body_over_64_KiB"),
 ("backchannel.go", 'raw := r.PostForm["logout_token"]', 'raw := r.Form["logout_token"]', "TestBackchannelLogoutMalformedRequests/logout_token_in_the_query"),
 ("store.go", 'const keyPrefix = "oidcauth\\\\"', 'const keyPrefix = "oidcauth."', "TestSessionCookieCannotNameRecords/app_manager_without_hashing"),
 ("session.go", 'sm.HashTokenInStore = true', '', "TestSessionCookieCannotNameRecords/own_manager"),
 ("store.go", 'return hashString(token)', 'return token', "TestBackchannelLogoutEndsSessions/HashTokenInStore,_by_sid"),
 ("sessionend.go", 'time.AfterFunc(d, func() { a.redelete(keys) })', '_ = d', "TestEndedSessionIsDeletedAgain"),
 ("sessionindex.go", 'if slices.ContainsFunc(back, func(x indexEntry) bool { return x.Key == e.Key }) {', 'if slices.ContainsFunc(back, func(x indexEntry) bool { return x.Key == e.Key }) || true {', "TestIndexSurvivesALostUpdate"),
 ("sessionend.go", 'if err := a.storeDelete(ctx, tokensKey(x.Login)); err != nil {', 'if err := error(nil); err != nil {', "TestBackchannelLogoutEndsSessions/by_sid_and_sub"),
 ("session.go", 'a.sm.SetDeadline(ctx, exp.UTC())', '_ = exp', "TestSessionCappedByIDToken/capped"),
 ("revoke.go", 'req.SetBasicAuth(url.QueryEscape(a.oauth.ClientID), url.QueryEscape(a.oauth.ClientSecret))', 'req.SetBasicAuth(a.oauth.ClientID, a.oauth.ClientSecret)', "TestLogoutRevokesTokens/client_secret_basic"),
 ('middleware.go', 'w.Header()["Cache-Control"] = noStore', '', 'TestAuthenticatedResponsesAreNotStored'),
 ('sessionend.go', 'if len(keys) == 0 {\n\t\treturn // nothing ended: no timers', 'if false {\n\t\treturn // nothing ended: no timers', 'TestAnonymousLogoutSchedulesNothing'),
 ('backchannel.go', 'case iat.Before(now.Add(-logoutTokenMaxLife - a.clockSkew)):', 'case false:', 'TestBackchannelLogoutRefusals/exp_years_ahead_and_an_iat_over_an_hour_old'),
 ('backchannel.go', '} else if lt.exp.Before(until) {', '} else if true {', 'TestLogoutTokenJTIKeptBounded'),
 ('lease.go', 'case errors.Is(err, ErrNotLoggedIn):\n\t\t\treturn nil, err', 'case errors.Is(err, ErrNotLoggedIn):\n\t\t\terr = a.saveTokens(ctx, l, next, a.sm.Deadline(ctx))\n\t\t\treturn next, err', 'TestRefreshDuringLogoutStoresNothing'),
 ('callback.go', 'if err := a.refuseLoggedOut(ctx, l, e.claims.IssuedAt.Time); err != nil {', 'if err := error(nil); err != nil {', 'TestBackchannelLogoutDuringACallback'),
 ('backchannel.go', 'key := endedKey(a.issuer, "sid", lt.sid)', 'key := endedKey(a.issuer, "sub", lt.sub)', 'TestBackchannelLogoutDuringACallback/another_provider_session'),
 ('sessionindex.go', 'if err := a.endSessionsIn(ctx, evicted); err != nil {', 'if err := error(nil); err != nil {', 'TestEndSessionsPastTheIndexLimit'),
 ('verify.go', 'if len(raw) > a.maxClaims {', 'if false {', 'TestClaimsSizeIsCapped/id_token_over_the_cap'),
 ('userinfo.go', 'if len(ts.Claims) > a.maxClaims {', 'if false {', 'TestClaimsSizeIsCapped/merged_userinfo_over_the_cap'),
 ('logout.go', 'if ts != nil && len(ts.IDToken) <= maxIDTokenHint {', 'if ts != nil {', 'TestClaimsSizeIsCapped/no_id_token_hint_too_long_for_a_URL'),
 ('callback.go', 'case a.exchanges <- struct{}{}:\n\t\tdefer func() { <-a.exchanges }()', 'default:', 'TestCodeExchangesAreBounded'),
 ('auth.go', 't.MaxIdleConnsPerHost = maxExchanges', '', 'TestCodeExchangesAreBounded'),
 ('pending.go', 'if subtle.ConstantTimeCompare([]byte(p.StateHash), []byte(sh)) == 1 {', 'if true {', 'TestCallbackRejectsBadState/state_of_another_browser'),
 ('callback.go', 'if !fresh {', 'if false {', 'TestCallbackRejectsBadState/reused_state_with_its_cookie_replayed'),
 ('pending.go', '\tmu.Lock()\n\tdefer mu.Unlock()\n\tif _, used', '\tif _, used', 'TestStateRedeemedOnce/one_instance'),
 ('pending.go', 'return ls.CommitIfAbsent(ctx, key, []byte{1}, expiry)', 'return true, nil', 'TestStateRedeemedOnce/two_instances_on_a_LeaseStore'),
 ('pending.go', 'return free[mrand.IntN(len(free))]', 'return free[mrand.IntN(len(free))] + random(4)', 'TestLoginCookiesBounded'),
 ('session.go', 'if strict && len(weak) > 0 {', 'if false {', 'TestStrictSessionManager'),
 ('tokenstore.go', 'b = a.sealTokens(b)', '', 'TestTokenEncryption'),
 ('touch.go', 'if since > a.idle {', 'if false {', 'TestIdleSessionNoLongerAuthenticates'),
 ('touch.go', 'if limit := time.Now().Add(s.life); limit.Before(expiry) {', 'if limit := time.Now().Add(s.life); false && limit.Before(expiry) {', 'TestIdleTimeout'),
 ('touch.go', 'if since < a.touchEvery {\n\t\treturn l', 'if false {\n\t\treturn l', 'TestHotPathStoreCalls'),
 ('pending.go', 'if p.aead != nil && age < loginKeyRefresh && (!reload || age < loginKeyReload) {', 'if p.aead != nil && (!reload || age < loginKeyReload) {', 'TestLoginKeyFollowsTheStore'),
 ('pending.go', 'if err != nil && prev != nil {', 'if false {', 'TestLoginKeyFollowsTheStore'),
 # Per-route policy, step-up, RFC 9470, silent login, the login allow-list, hooks (issue 16).
 ('stepup.go', 'if len(p.ACR) > 0 {\n\t\tacr = p.ACR', 'if false {\n\t\tacr = p.ACR', 'TestStepUpRefusedKeepsSession/weaker_acr'),
 ('stepup.go', 'if p.MaxAge != nil {\n\t\tmaxAge =', 'if false {\n\t\tmaxAge =', 'TestStepUpRefusedKeepsSession/auth_time_still_too_old'),
 ('stepup.go', 'if at.IsZero() {\n\t\t\treturn insufficientAuthentication(fmt.Errorf("max_age was requested but the id_token has no auth_time"))', 'if at.IsZero() {\n\t\t\tat = time.Now()', 'TestStepUpRefusedKeepsSession/no_auth_time'),
 ('stepup.go', 'if !a.IsAPIRequest(r) {', 'if true {', 'TestStepUpAPI'),
 ('policy.go', 'if slices.Contains(req.acr, c.ACR) {', 'if true {', 'TestStepUpACR'),
 ('policy.go', 'if !at.IsZero() && time.Since(at) <= maxAge+a.clockSkew {', 'if !at.IsZero() || true {', 'TestStepUpFreshLogin'),
 ('policy.go', 'if claimContains(raw, name, value) {', 'if true {', 'TestRequireClaim'),
 ('policy.go', 'if s, ok := x.(string); ok && s == value {', 'if s, ok := x.(string); ok || s == value {', 'TestRequireClaim'),
 ('policy.go', 'if allow(r) {', 'if true {', 'TestRequireCheck'),
 ('callback.go', 'if old, _ := a.sessionLogin(ctx); old != nil && old.Subject != l.Subject {', 'if old, _ := a.sessionLogin(ctx); false && old != nil {', 'TestStepUpAnotherUser'),
 ('challenge.go', 'if _, dup := c.params[name]; dup {', 'if _, dup := c.params[name]; false && dup {', 'TestParseStepUpChallenge/repeated_parameter'),
 ('challenge.go', 'if len(s) > maxChallengeLen {', 'if false {', 'TestParseStepUpChallenge/field_too_long'),
 ('challenge.go', 'if len(c.params) == maxChallengeParams {', 'if false {', 'TestParseStepUpChallenge/too_many_parameters'),
 ('challenge.go', 'if len(fields) > maxChallengeFields {', 'if false {', 'TestParseStepUpChallenge/too_many_fields'),
 ('challenge.go', 'if v == "" || len(v) > maxAgeDigits || strings.Trim(v, "0123456789") != "" {', 'if v == "" || strings.Trim(v, "0123456789") != "" {', 'TestParseStepUpChallenge/max_age_too_long'),
 ('challenge.go', 'if !validACR(v) {\n\t\t\t\treturn nil, false // also', 'if !validACR(v) && false {\n\t\t\t\treturn nil, false // also', 'TestParseStepUpChallenge/acr_double_space'),
 ('challenge.go', 'c.params["error"] != "insufficient_user_authentication"', 'false', 'TestParseStepUpChallenge/another_error'),
 ('challenge.go', 'if !ok || found != nil {', 'if !ok {', 'TestParseStepUpChallenge/two_step-up_challenges'),
 ('challenge.go', "case c == '\\t' || (0x20 <= c && c <= 0x7e):", 'case true:', 'TestParseStepUpChallenge/obs-text_in_another_parameter'),
 ('silent.go', 'if _, err := r.Cookie(a.silentCookie); err == nil {', 'if _, err := r.Cookie(a.silentCookie); false && err == nil {', 'TestSilentLoginWithoutProviderSession'),
 ('silent.go', 'return p.Silent && slices.Contains(silentErrors, code)', 'return slices.Contains(silentErrors, code)', 'TestSilentErrorsOnlyForSilentLogins'),
 ('loginparams.go', 'ok = ok && (slices.Contains(a.loginACRs, x) || slices.Contains(a.acrValues, x))', 'ok = ok && (x != "" || slices.Contains(a.loginACRs, x))', 'TestLoginQueryAllowList'),
 ('loginparams.go', 'if one("prompt") == "login" {\n\t\treq.prompt = "login"', 'if p := one("prompt"); p != "" {\n\t\treq.prompt = p', 'TestLoginQueryAllowList'),
 ('loginparams.go', 'len(h) <= maxLoginHint && printable(h, maxLoginHint) == h', 'len(h) <= maxLoginHint', 'TestLoginQueryAllowList'),
 ('hooks.go', 'if x != y {', 'if false {', 'TestLoginHook'),
]
if filters:
    muts = [m for m in muts if any(x in m[0] or x in m[3] for x in filters)]
    if not muts:
        sys.exit("no defense matches " + " ".join(filters))
ok = True
for f, old, new, test in muts:
    src = open(f).read()
    if old not in src:
        print(f"MISSING pattern in {f}: {old[:60]}"); ok=False; continue
    open(f,'w').write(src.replace(old, new, 1))
    r = subprocess.run(["go","test","-count=1","-run","^"+test.split('/')[0]+"$" if '/' not in test else test.replace('/','$/^',1)+"$",".", ], capture_output=True, text=True)
    open(f,'w').write(src)
    status = "FAILS (good)" if r.returncode != 0 else "STILL PASSES (bad)"
    if r.returncode == 0: ok=False
    print(f"{f}: {test}: {status}")
print("ALL BITE" if ok else "SOME DO NOT BITE")
shutil.rmtree(scratch)
sys.exit(0 if ok else 1)
