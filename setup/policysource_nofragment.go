package setup

import (
	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/policysource"
)

// explainNoFragment says, in the verdicts of the policies denying what a
// delegation of root hands over, why it has no fragment in force: never
// published, refused (and why) or expired (and when), as absent says.
// The generic reason policysource gives cannot tell.
func explainNoFragment(c *Config, root *config.Fragment, absent map[string]*policysource.Absence) {
	for n, a := range absent {
		d, ok := root.Delegations[n]
		if !ok || a == nil {
			continue
		}
		for i := range c.Policies {
			if p := &c.Policies[i]; p.Name == n+policysource.NoFragmentSuffix {
				p.Reason = policysource.NoFragmentReason(n, d, a.Why)
			}
		}
	}
}

// absences is why each delegation has no fragment in force at start: as
// the last refresh recorded (kept), and for a fragment kept with it but
// dropped now (dropped: expired, or not fitting the others), why so.
func absences(kept *policysource.Kept, dropped map[string]error) map[string]*policysource.Absence {
	if len(kept.Absent) == 0 && len(dropped) == 0 {
		return nil
	}
	out := map[string]*policysource.Absence{}
	for n, a := range kept.Absent {
		out[n] = a
	}
	for n, err := range dropped {
		digest, ref := "", ""
		if t := kept.Tenants[n]; t != nil {
			digest, ref = t.Digest, t.Reference
		}
		out[n] = policysource.AbsenceOf(policysource.AsRefused(digest, err))
		out[n].Reference = ref
	}
	return out
}
