package nri

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"

	"github.com/signgate/signgate/internal/trustpath"
)

// A hook another plugin adds runs only a host program the policy names
// ([hooks] allowed_programs): the checks before it judge the words a hook
// shows, but a host program that runs its arguments (a wrapper no list of
// runners knows) runs whatever they name, as root. What the config did not
// name is not run.

// unlisted says why prog is not a program hooks may run, or "": it must
// be listed as written, and so must what its symlinks lead to (the program
// the kernel runs), unless that is a multi-call binary acting as the
// applet the link names, as codeRefused judges it.
func (p *Plugin) unlisted(prog string) string {
	var list []string
	if p.HookPrograms != nil {
		list = p.HookPrograms()
	}
	if !slices.Contains(list, prog) {
		return fmt.Sprintf("runs %s, which [hooks] allowed_programs does not list: another plugin's hooks run only the host programs signgate's policy names; add it there if it may run as root for every container it is added to", prog)
	}
	resolve := trustpath.Resolve
	if p.hostProgram != nil {
		resolve = p.hostProgram
	}
	r, err := resolve(prog)
	if why := programUntrusted(prog, err); why != "" {
		return why
	}
	if linkUnlisted(prog, r, list) {
		return fmt.Sprintf("runs %s, a link to %s, which [hooks] allowed_programs does not list: list the program the link leads to as well", prog, r)
	}
	return ""
}

// programUntrusted says why a listed program, resolved with err, may not
// run, or "": the runtime runs it as root for every container the hook
// is added to, so one that someone but root (or signgate's user) could
// replace is not run, nor one signgate cannot see and so cannot check
// (in a pod, the host's directories it was not given).
func programUntrusted(prog string, err error) string {
	var u *trustpath.UntrustedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &u):
		return fmt.Sprintf("runs %s, which another user could replace: %v; a listed program runs as root in every container the hook is added to, so it and its directories must be root's and writable by no one else", prog, u)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("runs %s, which signgate cannot see (%v), so it cannot tell who may change it: run signgate on the host, or mount the host's directory holding it at the same path (read-only)", prog, err)
	}
	return fmt.Sprintf("runs %s, which signgate cannot check: %v", prog, err)
}

// linkUnlisted: prog leads to r, which list does not hold (unless a
// multi-call binary, acting as the applet the link names).
func linkUnlisted(prog, r string, list []string) bool {
	return r != prog && !multiCall[path.Base(r)] && !slices.Contains(list, r)
}

// HookLinkUnlisted is what prog's symlinks lead to when list does not
// hold it (so a hook running prog is refused), or "" (also when it
// cannot be resolved: setup warns of that, and unlisted refuses it).
func HookLinkUnlisted(prog string, list []string) string {
	if r, err := filepath.EvalSymlinks(prog); err == nil && linkUnlisted(prog, r, list) {
		return r
	}
	return ""
}

// HookProgramRefused says why prog may not be listed in [hooks]
// allowed_programs, or "": it lies where images' or containers' files
// do (by containerd's layout; a runtime's own is applied to each hook), or
// it (or what its symlinks lead to) is an interpreter or a runner, which
// runs code or programs its arguments name.
func HookProgramRefused(prog string) string {
	for _, q := range resolved(prog) {
		if why := (&Plugin{}).pathRefused(q); why != "" {
			if q != prog {
				return fmt.Sprintf("it is a link to %s, which%s", q, why)
			}
			return "it" + why
		}
	}
	for _, q := range resolved(prog) {
		if q != prog && multiCall[path.Base(q)] {
			continue // the applet the link names, judged by its name
		}
		if isInterpreter(q) {
			return fmt.Sprintf("%s is an interpreter or a program runner, which runs code or programs its arguments name; list the program it would run instead", q)
		}
	}
	return ""
}
