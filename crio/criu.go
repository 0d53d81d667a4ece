package crio

import (
	"context"
	"fmt"
	"sync"

	"github.com/signgate/signgate/doctor"
)

// keyCRIU is CRI-O's switch for checkpoint restores, and keyCRIUUnsafe
// signgate's opt-out of refusing creations while it is on.
const (
	keyCRIU       = "[crio.runtime] enable_criu_support"
	keyCRIUUnsafe = "[daemon.runtime] crio_checkpoint_restore_unsafe"
)

// RestoreGate refuses creations on a CRI-O that restores checkpoints: with
// enable_criu_support on (CRI-O's running config turns it off where criu
// is not in its PATH), a CreateContainer naming a checkpoint reaches NRI
// as a creation on the signed base image the checkpoint names, and the
// checkpoint's files and process memory, never verified, are put in at
// start, which NRI is not told of; nothing tells such a creation from
// another. CRI-O's running config is asked on crio_socket (GET /config, as
// doctor asks it) once per NRI connection (CRI-O reads the key at start
// only); an answer that cannot be had is doubt, and asked again at the
// next creation. Without crio_socket nothing is asked: the daemon warns.
type RestoreGate struct {
	Socket string // crio_socket; "" asks nothing
	Unsafe bool   // crio_checkpoint_restore_unsafe
	// Read is CRI-O's running enable_criu_support (nil: not set, on), and
	// where it was read; doctor.ReadCRIORunning's when nil.
	Read func(ctx context.Context, sock string) (on *bool, where string, err error)

	mu    sync.Mutex
	known bool  // asked since the last connection
	deny  error // the answer: nil, restores are off
}

// Reset forgets the answer: NRI connected again, and CRI-O may have
// restarted with another config.
func (g *RestoreGate) Reset() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.known, g.deny = false, nil
	g.mu.Unlock()
}

// Check is nil when creations may go on; else why not, naming the key,
// where it was read and the opt-out.
func (g *RestoreGate) Check(ctx context.Context) error {
	if g == nil || g.Unsafe || g.Socket == "" {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.known {
		return g.deny
	}
	read := g.Read
	if read == nil {
		read = readCRIU
	}
	on, where, err := read(ctx, g.Socket)
	if err != nil {
		// Not cached: asked again at the next creation.
		return fmt.Errorf("signgate cannot tell whether CRI-O restores checkpoints (%s) unverified: %v; set %s = true to admit containers all the same", keyCRIU, err, keyCRIUUnsafe)
	}
	g.known, g.deny = true, nil
	if on == nil || *on {
		g.deny = fmt.Errorf("CRI-O restores checkpoints: %s is on (%s), so a creation on a signed base image may run a checkpoint's files and process memory nobody verified; set it false in a drop-in under crio.conf.d (signgate's 10-signgate.conf does) and restart CRI-O, or set %s = true", keyCRIU, where, keyCRIUUnsafe)
	}
	return g.deny
}

// readCRIU asks CRI-O's running config, as doctor does.
func readCRIU(ctx context.Context, sock string) (*bool, string, error) {
	c, err := doctor.ReadCRIORunning(ctx, sock)
	if err != nil {
		return nil, "", err
	}
	return c.CRIUSupport, "in CRI-O's running config (GET /config on " + sock + ")", nil
}
