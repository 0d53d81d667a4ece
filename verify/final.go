package verify

// Final reports whether a denial with this cause is the trust material's
// own answer about the image, one that asking again would give again:
// the signatures (or attestations) were read and judged against the keys,
// certificates and trust roots in force, or no policy governs the image,
// or one in mode "deny" does. A deny policy signgate writes for a
// delegation without a fragment never stops anything: it has no
// on_untrusted_running, so the default, report, holds.
// Only a final denial may act on a running container (stop it); any other
// is reported and judged again at the next change.
//
// It is an allow-list: a cause added later is not final until it is
// listed here (TestEveryCauseIsClassifiedFinalOrNot makes adding one a
// decision). Not final:
//   - registry_error, rate_limited, pending: the registry was not read, or
//     not in time: we do not know (an outage must not stop a node);
//   - misconfigured: the policy cannot be applied as written, or a trust
//     root it needs is not loaded yet: a config mistake or a start-up says
//     nothing about the image;
//   - image_unknown, rootfs_mismatch, image_mismatch, bad_name: doubts
//     about which image runs, from the runtime's records, not from
//     checking signatures; a tag that moved, an image removed, a record
//     unreadable read as these;
//   - verified, allowed_by_policy: not denials.
func (c Cause) Final() bool {
	switch c {
	case CauseNoSignatures, CauseUntrusted, CauseNoAttestation, CauseAttestationFailed, CauseNoPolicy, CauseDeniedByPolicy:
		return true
	}
	return false
}
