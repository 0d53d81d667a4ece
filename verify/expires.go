package verify

import "time"

// Expires is when a key version or trust root the snapshot trusts stops
// being trusted (a KMS version's grace period, kms.max_staleness, a trust
// root's staleness limit), whichever comes first; zero for never. What is
// decided after it may differ from what was decided before, without any
// sync or reload saying so.
func (s *Snapshot) Expires() time.Time { return s.expires() }
