package config

import (
	"fmt"
	"path"
	"strings"
)

// HooksSection is [hooks]: the host programs that OCI hooks other NRI
// plugins add may run. The runtime runs such a hook on the host as root,
// after signgate admitted the container: a program not named here is
// refused (nri/hooks.go), for a host program that runs its arguments (a
// wrapper no list of runners knows) would run whatever the hook names.
// It is policy: with [policy_source] the signed artifact carries it.
type HooksSection struct {
	AllowedPrograms []string `toml:"allowed_programs"`
}

// Hooks is [hooks] checked; empty refuses every hook another plugin adds.
type Hooks struct {
	AllowedPrograms []string
}

// HookUnfollowable are the characters a shell or a glob expands: a
// program named with one is not one program.
const HookUnfollowable = "$`*?[]{}\\"

// hooks checks the shape of each program: an absolute, clean path with
// nothing a shell expands, outside CRI-O's storage. setup refuses the
// rest (an interpreter, a runner, containerd's state) by nri's rules.
func hooks(p *Problems, s *HooksSection, rt Runtime) Hooks {
	if s == nil {
		return Hooks{}
	}
	var out Hooks
	for i, prog := range s.AllowedPrograms {
		key := hookKey(i, prog)
		switch {
		case !strings.HasPrefix(prog, "/"):
			p.Errorf("%s: want the program's absolute path, as the hook names it", key)
			continue
		case path.Clean(prog) != prog:
			p.Errorf("%s: write it clean, as %q: a hook's path is compared as written", key, path.Clean(prog))
			continue
		case strings.ContainsAny(prog, HookUnfollowable) || strings.ContainsFunc(prog, isSpaceOrControl):
			p.Errorf("%s: name one program: no glob, expansion, space or control characters", key)
			continue
		}
		if root := underRoot(prog, rt.CRIOStorageRoot, rt.CRIOStorageRunRoot); root != "" {
			p.Errorf("%s: lies in CRI-O's storage (%s), where images' files are", key, root)
			continue
		}
		out.AllowedPrograms = append(out.AllowedPrograms, prog)
	}
	return out
}

// hookKey names entry i of allowed_programs in an error.
func hookKey(i int, prog string) string {
	return fmt.Sprintf("hooks.allowed_programs[%d] = %q", i, prog)
}

// underRoot is the first of roots that p lies in, or "".
func underRoot(p string, roots ...string) string {
	for _, r := range roots {
		if r != "" && (p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/")) {
			return r
		}
	}
	return ""
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }
