package localapi

import "time"

// PathRunning lists the running containers, each judged again now.
const PathRunning = "/v1/running" // GET -> RunningResponse

// Verdicts of a running container.
const (
	RunningTrusted   = "trusted"   // its policy's requirements are met
	RunningAllowed   = "allowed"   // allowed unverified: a policy in mode allow or audit
	RunningUntrusted = "untrusted" // its policy no longer trusts it
)

// RunningContainer is one running container as `signgate ps` shows it.
type RunningContainer struct {
	ID        string `json:"id"`
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Container string `json:"container"`
	// Sandbox: this is the pod's sandbox (Container is "(sandbox)"), whose
	// pause image runs; stopping it stops the pod.
	Sandbox bool `json:"sandbox,omitempty"`
	// Image is the reference the container names; Digest what it runs.
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"`
	Policy string `json:"policy,omitempty"`
	// Verdict is trusted, allowed or untrusted; Cause and Reason say why.
	Verdict    string   `json:"verdict"`
	Cause      string   `json:"cause"`
	Reason     string   `json:"reason"`
	VerifiedBy []string `json:"verified_by,omitempty"` // "cosign: key", "notation: root", ...
	// Action is what signgate did about an untrusted container: its
	// policy's on_untrusted_running ("report", "stop"), and how a stop went.
	Action string `json:"action,omitempty"`
}

// RunningResponse answers GET /v1/running.
type RunningResponse struct {
	Containers []RunningContainer `json:"containers"`
	JudgedAt   time.Time          `json:"judged_at"`
	// Error says why the list may be incomplete (containerd's tasks could
	// not be listed, signgate is not connected to NRI).
	Error string `json:"error,omitempty"`
}
