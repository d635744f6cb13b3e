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
	echo "BENCH hsm.issue.${threads}t $certs /s hsm.sign.${threads}t device certificates issued through SoftHSM (DER), $threads thread(s)"
	echo "BENCH hsm.sign.${threads}t $signs /s - bare ECDSA signatures, same key and token, $threads thread(s)"
	echo "NOTE hsm.issue.${threads}t target >= 80% of bare signing"
	echo "BENCH hsm.issue_x509.${threads}t $x509 /s hsm.sign.${threads}t the same, decoded into an X509 (hsm_issue_pubkey), $threads thread(s)"
	echo "BENCH hsm.token_mode_cert.${threads}t $sealed /s hsm.sign.${threads}t token key mode: device key made and wrapped in the token + its certificate, $threads thread(s)"
done
# Token key mode alone (device key pair + ephemeral pair, ECDH, KEK, wrap:
# two key pairs, two derivations and a wrap per device) and re-wraps (find
# the station key, ECDH, KEK, unwrap, then the same sealing), next to bare
# C_GenerateKeyPair of P-256 session objects on the same token in the same
# run (the floor: a token-mode key costs at least two of those).
for threads in 1 2; do
	read -r sealed bare rewraps < <("$TOOL" "$H" keybench 3 "$threads")
	echo "BENCH hsm.token_mode.${threads}t $sealed /s hsm.keygen.${threads}t token key mode: device keys generated and wrapped in the token, $threads thread(s)"
	echo "NOTE hsm.token_mode.${threads}t per device: 2 key pairs, ECDH, KEK, wrap"
	echo "BENCH hsm.keygen.${threads}t $bare /s - bare C_GenerateKeyPair (P-256 session objects), same token, $threads thread(s)"
	echo "BENCH hsm.rewrap.${threads}t $rewraps /s hsm.keygen.${threads}t re-wraps in the token (unwrap from the station key, seal to a device), $threads thread(s)"
done
