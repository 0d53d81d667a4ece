package nri

// Peer is the runtime NRI connected signgate to, as its Configure call
// names it: "containerd" or "cri-o", and its version.
type Peer struct {
	Name, Version string
}

// Peer is the runtime of the last Configure call, if one came.
func (p *Plugin) Peer() (Peer, bool) {
	if r := p.peer.Load(); r != nil {
		return *r, true
	}
	return Peer{}, false
}

// checkRuntime records the runtime Configure names and asks OnRuntime
// whether signgate can gate it (the runtime whose records it reads). A
// refusal fails the registration, loudly: on a runtime with NRI's
// validator requiring signgate, no container is created meanwhile.
func (p *Plugin) checkRuntime(runtime, version string) error {
	p.peer.Store(&Peer{Name: runtime, Version: version})
	if p.OnRuntime == nil {
		return nil
	}
	if err := p.OnRuntime(runtime, version); err != nil {
		p.log().Error("signgate cannot gate the runtime NRI connected it to; not registering", "runtime", runtime, "version", version, "err", err)
		return err
	}
	return nil
}
