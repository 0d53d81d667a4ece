package config

// ProveKeys are [daemon]'s keys for the enforcement probe (signgate doctor
// --prove, and the daemon's schedule), as written; package prove checks
// them.
type ProveKeys struct {
	Interval string // prove_interval: "" or "0" for off
	Image    string // prove_image: the probe's repository
}
