package nri

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
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
	if r := HookLinkUnlisted(prog, list); r != "" {
		return fmt.Sprintf("runs %s, a link to %s, which [hooks] allowed_programs does not list: list the program the link leads to as well", prog, r)
	}
	return ""
}

// HookLinkUnlisted is what prog's symlinks lead to when list does not
// hold it (so a hook running prog is refused), or "".
func HookLinkUnlisted(prog string, list []string) string {
	if r, err := filepath.EvalSymlinks(prog); err == nil && r != prog && !multiCall[path.Base(r)] && !slices.Contains(list, r) {
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
