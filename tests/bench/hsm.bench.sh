#!/usr/bin/env bash
# hsm.bench.sh: device certificates issued per second through SoftHSM
# (hsm_issue_der, 1 and 2 threads), next to bare signatures by the same
# sub-CA key through the same token in the same run (SHA-256 of a
# certificate-sized message + the token's ECDSA). The modes run in
# interleaved 0.2 s slices so that other load on the machine falls on
# both alike. Target: issuance >= 80% of the bare signing rate. Also the
# same through hsm_issue_pubkey, which decodes the result into an X509,
# and the token key mode (session keygen, ECDH, KDF, wrap, certificate);
# then the token key mode and re-wraps alone against bare key generation.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
TOOL="$TOP/$BUILD/test-tools/hsm-tool"
H=$(mktemp -d); trap 'rm -rf "$H"' EXIT
rmdir "$H"
"$STATION" pki demo --home "$H" >/dev/null
for threads in 1 2; do
	read -r certs signs x509 sealed < <("$TOOL" "$H" bench 3 "$threads")
	echo "| device certificates issued/s through SoftHSM (DER), $threads thread(s) | $certs | bare ECDSA signatures/s, same key and token: $signs | $(( certs * 100 / signs ))% (target >= 80%) |"
	echo "| the same, decoded into an X509 (hsm_issue_pubkey), $threads thread(s) | $x509 | bare: $signs | $(( x509 * 100 / signs ))% |"
	echo "| token key mode: device key made and wrapped in the token + its certificate, per second, $threads thread(s) | $sealed | bare: $signs | $(( sealed * 100 / signs ))% |"
done
# Token key mode alone (device key pair + ephemeral pair, ECDH, KEK, wrap:
# two key pairs, two derivations and a wrap per device) and re-wraps (find
# the station key, ECDH, KEK, unwrap, then the same sealing), next to bare
# C_GenerateKeyPair of P-256 session objects on the same token in the same
# run (the floor: a token-mode key costs at least two of those).
for threads in 1 2; do
	read -r sealed bare rewraps < <("$TOOL" "$H" keybench 3 "$threads")
	echo "| token key mode: device keys generated and wrapped in the token per second, $threads thread(s) | $sealed | bare C_GenerateKeyPair (P-256 session objects), same token: $bare | $(( sealed * 100 / bare ))% (per device: 2 key pairs, ECDH, KEK, wrap) |"
	echo "| re-wraps in the token per second (unwrap from the station key, seal to a device), $threads thread(s) | $rewraps | bare C_GenerateKeyPair: $bare | $(( rewraps * 100 / bare ))% |"
done
