package nri

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// A hook's words are judged as literal paths; a shell or an interpreter
// builds paths at run time (a glob, a variable, a `cd` then a relative
// name, code read from the container's state on stdin, whose annotations
// the pod's author writes), so where its commands lead cannot be told
// without running them. Such a hook is refused, not guessed at.

// unfollowable are the characters through which a shell, find or xargs
// turns a word into paths signgate cannot read from the word itself.
const unfollowable = "$`*?[{\\"

// interpreters run code given inline, in a script or on stdin. A name
// that starts with one of the prefixed ones (python3.12, perl5.36) is one.
var interpreters = map[string]bool{
	"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true, "mksh": true, "yash": true, "hush": true,
	"fish": true, "csh": true, "tcsh": true, "busybox": true, "toybox": true, "env": true,
	"ruby": true, "node": true, "nodejs": true, "tclsh": true, "expect": true,
	"awk": true, "gawk": true, "mawk": true, "nawk": true, "sed": true, "xargs": true, "eval": true,
	// They run a command string through a shell: su -c, watch, ssh host cmd.
	"su": true, "sudo": true, "runuser": true, "doas": true, "watch": true, "ssh": true,
}

var interpreterPrefixes = []string{"python", "perl", "php", "lua", "pwsh"}

// runners run another program named in their arguments (timeout 5 PROG,
// chroot rootfs PROG, the dynamic loader): the program they run is a word
// signgate would have to parse each runner's options to find, so a hook
// that wraps its program in one is refused; name the program itself.
var runners = map[string]bool{
	"chroot": true, "nice": true, "timeout": true, "nsenter": true, "setsid": true, "unshare": true,
	"stdbuf": true, "taskset": true, "ionice": true, "chrt": true, "strace": true, "ltrace": true,
	"setpriv": true, "capsh": true, "systemd-run": true, "find": true, "flock": true, "script": true,
	"parallel": true, "nohup": true, "time": true, "sg": true, "newgrp": true, "start-stop-daemon": true,
	"setarch": true, "linux32": true, "linux64": true, "prlimit": true, "numactl": true, "cgexec": true,
	"firejail": true, "bwrap": true, "gdb": true, "valgrind": true,
}

var runnerPrefixes = []string{"ld-linux", "ld-musl", "ld.so"}

func isInterpreter(p string) bool {
	b := path.Base(p)
	if interpreters[b] || isRunner(p) {
		return true
	}
	for _, pre := range interpreterPrefixes {
		if strings.HasPrefix(b, pre) {
			return true
		}
	}
	return false
}

func isRunner(p string) bool {
	b := path.Base(p)
	if runners[b] {
		return true
	}
	for _, pre := range runnerPrefixes {
		if strings.HasPrefix(b, pre) {
			return true
		}
	}
	return false
}

// multiCall are programs that act as the applet they are called by
// (/usr/bin/true -> busybox): such a link is judged by its own name.
var multiCall = map[string]bool{"busybox": true, "toybox": true}

// codeRefused says why a hook runs code signgate cannot follow, or "":
// a word with shell expansion, a glob or an escape; an interpreter as its
// program, unless given a script by absolute path (judged as a path) and
// nothing else it could read code from; an interpreter named among its
// arguments (nsenter ... sh -c, env sh).
func codeRefused(prog string, args, env []string) string {
	for _, a := range args {
		if i := strings.IndexAny(a, unfollowable); i >= 0 {
			return fmt.Sprintf("has an argument %q with %q, which a shell or interpreter expands into paths that cannot be told beforehand", a, a[i])
		}
	}
	for _, e := range env {
		if i := strings.IndexAny(e, unfollowable); i >= 0 {
			return fmt.Sprintf("has an environment variable %q with %q, which a shell or interpreter expands into paths that cannot be told beforehand", e, e[i])
		}
	}
	progs := []string{prog}
	if r, err := filepath.EvalSymlinks(prog); err == nil && r != prog && !multiCall[path.Base(r)] {
		progs = append(progs, r) // /bin/sh -> dash
	}
	for _, p := range progs {
		if isRunner(p) {
			return fmt.Sprintf("runs another program named in its arguments (%s), which signgate cannot tell from its options: a hook names its program itself", path.Base(p))
		}
		if isInterpreter(p) && !scriptByPath(args) {
			return fmt.Sprintf("runs an interpreter (%s) on code from its arguments or its input (the container's state, which the pod's author writes), which signgate cannot follow", path.Base(p))
		}
	}
	for i, a := range args {
		if i == 0 {
			continue // argv[0], the program's own name
		}
		for _, w := range strings.FieldsFunc(a, hookWordSep) {
			if namesInterpreter(w) {
				return fmt.Sprintf("has an argument %q that names an interpreter or a program runner (%s), whose code signgate cannot follow", a, path.Base(w))
			}
			if why := relativeRefused(w); why != "" {
				return fmt.Sprintf("has an argument %q with %s", a, why)
			}
		}
	}
	for _, e := range env {
		for _, w := range strings.FieldsFunc(e, hookWordSep) {
			if why := relativeRefused(w); why != "" {
				return fmt.Sprintf("has an environment variable %q with %s", e, why)
			}
		}
	}
	return ""
}

// relativeRefused: a relative path leads from where the runtime runs the
// hook, the container's bundle, whose rootfs is the container's own root
// filesystem (written by the container by poststart): one into a rootfs
// is refused.
func relativeRefused(w string) string {
	if !strings.Contains(w, "/") || strings.HasPrefix(w, "/") {
		return ""
	}
	parts := strings.Split(path.Clean(w), "/")
	for _, c := range parts {
		if c == "rootfs" {
			return fmt.Sprintf("a relative path (%s) into a root filesystem in the runtime's bundle, which containers write", w)
		}
	}
	return "" // a ".." component is refused as a mount's is (pathRefused)
}

// namesInterpreter: w is an interpreter's name, or its path in a bin
// directory (/usr/bin/python3, not /usr/lib/python3).
func namesInterpreter(w string) bool {
	if !strings.Contains(w, "/") {
		return isInterpreter(w)
	}
	return strings.HasSuffix(path.Dir(w), "bin") && isInterpreter(w)
}

// scriptByPath: the interpreter is given a script by absolute path first
// and no option before it (an option may carry code: -c, -e, --eval);
// what follows is the script's arguments.
func scriptByPath(args []string) bool {
	return len(args) >= 2 && strings.HasPrefix(args[1], "/")
}
