package crio

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/signgate/signgate/doctor"
)

// keyCRIU is CRI-O's switch for checkpoint restores, and keyCRIUUnsafe
// signgate's opt-out of refusing creations while it is on.
const (
	keyCRIU       = "[crio.runtime] enable_criu_support"
	keyCRIUUnsafe = "[daemon.runtime] crio_checkpoint_restore_unsafe"
)

// readTimeout bounds one read of CRI-O's config; a creation waits for it
// no longer than its own deadline.
const readTimeout = 30 * time.Second

// RestoreGate refuses creations on a CRI-O that restores checkpoints: with
// enable_criu_support on (CRI-O's running config turns it off where criu
// is not in its PATH), a CreateContainer naming a checkpoint reaches NRI
// as a creation on the signed base image the checkpoint names, and the
// checkpoint's files and process memory, never verified, are put in at
// start, which NRI is not told of; nothing tells such a creation from
// another. CRI-O's running config is asked on crio_socket (GET /config, as
// doctor asks it); without the socket, CRI-O's files are read as doctor
// reads them, and a key they leave unset is on (signgate cannot know
// whether criu is in CRI-O's PATH). Once per NRI connection (CRI-O reads
// the key at start only); an answer that cannot be had is doubt, and asked
// again at the next creation.
type RestoreGate struct {
	Socket string // crio_socket; "": CRI-O's files are read
	// ConfigFile and ConfigDir are crio's --config and --config-dir.
	ConfigFile, ConfigDir string
	Unsafe                bool // crio_checkpoint_restore_unsafe
	// Read is enable_criu_support (nil: not set, on), and where it was
	// read; g.read's when nil.
	Read func(ctx context.Context) (on *bool, where string, err error)

	mu      sync.Mutex
	known   bool         // asked since the last connection
	deny    error        // the answer: nil, restores are off
	reading *restoreRead // the read under way, shared by the creations waiting
	gen     int          // connections seen: a read from before Reset is not kept
}

// restoreRead is one read of CRI-O's config; done is closed when deny is set.
type restoreRead struct {
	done chan struct{}
	deny error
}

// Reset forgets the answer: NRI connected again, and CRI-O may have
// restarted with another config.
func (g *RestoreGate) Reset() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.known, g.deny, g.reading = false, nil, nil
	g.gen++
	g.mu.Unlock()
}

// Check is nil when creations may go on; else why not, naming the key,
// where it was read and the opt-out. One read runs at a time, outside the
// lock: a creation waits for it until its own ctx is done, never longer.
func (g *RestoreGate) Check(ctx context.Context) error {
	if g == nil || g.Unsafe {
		return nil
	}
	g.mu.Lock()
	if g.known {
		defer g.mu.Unlock()
		return g.deny
	}
	r := g.reading
	if r == nil {
		r = &restoreRead{done: make(chan struct{})}
		g.reading = r
		// The read outlives the creation that started it: the others wait
		// for it too.
		go g.ask(context.WithoutCancel(ctx), r, g.gen)
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.deny
	case <-ctx.Done():
		return fmt.Errorf("signgate cannot tell yet whether CRI-O restores checkpoints (%s) unverified: %s still being read when the creation's deadline came (%v); set %s = true to admit containers all the same", keyCRIU, g.source(), ctx.Err(), keyCRIUUnsafe)
	}
}

// ask reads the config once and keeps the answer, unless a new connection
// came meanwhile or the read failed (asked again at the next creation).
func (g *RestoreGate) ask(ctx context.Context, r *restoreRead, gen int) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	read := g.Read
	if read == nil {
		read = g.read
	}
	on, where, err := read(ctx)
	switch {
	case err != nil:
		r.deny = fmt.Errorf("signgate cannot tell whether CRI-O restores checkpoints (%s) unverified: %v; set %s = true to admit containers all the same", keyCRIU, err, keyCRIUUnsafe)
	case on == nil || *on:
		r.deny = fmt.Errorf("CRI-O restores checkpoints: %s is on (%s), so a creation on a signed base image may run a checkpoint's files and process memory nobody verified; set it false in a drop-in under crio.conf.d (signgate's 10-signgate.conf does) and restart CRI-O, or set %s = true", keyCRIU, where, keyCRIUUnsafe)
	}
	g.mu.Lock()
	if g.reading == r {
		g.reading = nil
		if err == nil && g.gen == gen {
			g.known, g.deny = true, r.deny
		}
	}
	g.mu.Unlock()
	close(r.done)
}

// source names what is read.
func (g *RestoreGate) source() string {
	if g.Socket != "" {
		return "CRI-O's running config on " + g.Socket
	}
	return "CRI-O's files " + g.ConfigFile + " and " + g.ConfigDir
}

// read asks CRI-O's running config, as doctor does; without the socket it
// reads CRI-O's files, merged as CRI-O merges them (doctor.ReadCRIO).
func (g *RestoreGate) read(ctx context.Context) (*bool, string, error) {
	if g.Socket != "" {
		c, err := doctor.ReadCRIORunning(ctx, g.Socket)
		if err != nil {
			return nil, "", err
		}
		return c.CRIUSupport, "in CRI-O's running config (GET /config on " + g.Socket + ")", nil
	}
	c, err := doctor.ReadCRIO(g.ConfigFile, g.ConfigDir)
	if err != nil {
		return nil, "", fmt.Errorf("CRI-O's config (%s, drop-ins under %s; crio_socket names no socket to ask): %w", g.ConfigFile, g.ConfigDir, err)
	}
	if f := c.Set[doctor.KeyCRIU]; f != "" {
		return c.CRIUSupport, "in " + f, nil
	}
	return nil, "set in none of " + strings.Join(c.Files, ", ") + ": CRI-O's default, on wherever criu is in its PATH, which signgate cannot see", nil
}
