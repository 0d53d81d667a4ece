package setup

import (
	"fmt"
	"slices"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/policysource"
)

// FitTenants composes the root body with as many of the tenants'
// fragments as compile together: each tenant is checked alone when it is
// fetched, but only the full set is what a reload runs. Tenants still in
// force (the same digest as in prev) are added first, then the changed
// ones; a changed fragment that does not fit falls back to its previous
// one, and one that still does not fit is dropped. A tenant never sets the
// root aside: only the root failing alone is an error. It returns the
// config, the tenants in it, and why each dropped fragment was (by
// delegation).
func FitTenants(local *config.Config, body []byte, tenants, prev map[string]*policysource.Tenant, digest string) (*Config, map[string]*policysource.Tenant, map[string]error, error) {
	if c, err := ComposeTenants(local, body, tenants, digest); err == nil {
		return c, tenants, nil, nil
	}
	c, err := ComposeTenants(local, body, nil, digest)
	if err != nil {
		return nil, nil, nil, err
	}
	var same, changed []string
	for _, n := range sortedKeys(tenants) {
		if p := prev[n]; p != nil && p.Digest == tenants[n].Digest {
			same = append(same, n)
		} else {
			changed = append(changed, n)
		}
	}
	in := map[string]*policysource.Tenant{}
	dropped := map[string]error{}
	try := func(n string, t *policysource.Tenant) error {
		in[n] = t
		cc, err := ComposeTenants(local, body, in, digest)
		if err != nil {
			delete(in, n)
			return err
		}
		c = cc
		return nil
	}
	for _, n := range slices.Concat(same, changed) {
		err := try(n, tenants[n])
		if err == nil {
			continue
		}
		dropped[n] = fmt.Errorf("delegation %q: its fragment %s does not compile with the others in force: %w", n, tenants[n].Digest, err)
		if p := prev[n]; p != nil && p.Digest != tenants[n].Digest {
			_ = try(n, p)
		}
	}
	return c, in, dropped, nil
}
