package nri

import (
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

// pluginID is the name and index signgate registered with NRI as.
type pluginID struct{ name, index string }

// setSelf records the name and index Run registers with.
func (p *Plugin) setSelf(name, index string) {
	p.self.Store(&pluginID{name: name, index: index})
}

// impostor refuses a creation whose NRI plugin list holds a plugin named
// as signgate but not signgate: the default validator requires a plugin
// by name only, so anyone who can reach the NRI socket can register
// "signgate" at another index and stand in for it while signgate is
// absent. Seen here, while signgate runs, it is refused and logged as an
// error: the gate is being impersonated.
func (p *Plugin) impostor(list []*api.PluginInstance) error {
	self := p.self.Load()
	if self == nil {
		return nil
	}
	for _, pl := range list {
		if pl.GetName() == self.name && pl.GetIndex() != self.index {
			err := fmt.Errorf("signgate: another NRI plugin is registered as %q (index %s; signgate is %s-%s): it could stand in for signgate while signgate is absent; find and remove it (whoever can reach the NRI socket can register one)",
				self.name, pl.GetIndex(), self.index, self.name)
			p.log().Error("another NRI plugin registered under signgate's name: refusing creations while it is registered", "plugin", pl.GetIndex()+"-"+pl.GetName(), "signgate", self.index+"-"+self.name)
			return err
		}
	}
	return nil
}
