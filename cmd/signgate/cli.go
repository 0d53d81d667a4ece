package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand's flags and help, parsed alike everywhere:
// --help exits 0 with what the command does, flags may follow positional
// arguments, and a usage error names what was wrong.
type command struct {
	name   string // as typed after signgate: "verify", "keys list"
	help   string // what the command does, then its usage line(s)
	fs     *flag.FlagSet
	output *string // --output, for commands that report; nil for none
	schema string  // the JSON schema of --output json
}

func newCommand(name, help string) *command {
	c := &command{name: name, help: help, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(io.Discard) // errors are ours to print, once
	c.fs.Usage = func() {}
	return c
}

// outputFlag adds --output text|json; schema versions the JSON.
func (c *command) outputFlag(schema string) {
	c.output = c.fs.String("output", "text", "output format: text or json")
	c.schema = schema
}

// configFlag adds --config, defaulting to $SIGNGATE_CONFIG, then what.
func (c *command) configFlag(def, usage string) *string {
	p := c.fs.String("config", envOr("SIGNGATE_CONFIG", def), usage+" (default $SIGNGATE_CONFIG, else "+def+")")
	c.fs.Lookup("config").DefValue = "" // the usage says it, once
	return p
}

// json reports whether output is JSON (also for usage errors, where the
// flags may not have parsed: then args are searched for it).
func (c *command) json(args []string) bool {
	if c.output != nil && *c.output == "json" {
		return true
	}
	if c.output == nil {
		return false
	}
	for i, a := range args {
		switch a {
		case "--":
			return false
		case "--output=json", "-output=json", "--json", "-json", "--o=json", "-o=json":
			return true // --json and -o are refused, but answered in JSON
		case "--output", "-output", "--o", "-o":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		}
	}
	return false
}

// parse parses args, flags wherever they stand, and checks the number of
// positional arguments (min to max; max < 0 for any). done says to return
// code now: after --help (0) or a usage error (2, already reported).
func (c *command) parse(args []string, min, max int) (pos []string, code int, done bool) {
	rest := args
	for {
		if err := c.fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(os.Stdout)
				return nil, exitOK, true
			}
			return nil, c.usageError(args, c.otherSpelling(err)), true
		}
		left := c.fs.Args()
		if len(left) == 0 {
			break
		}
		// flag stops at "--" (consuming it) or at the first positional.
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			pos = append(pos, left...)
			break
		}
		pos, rest = append(pos, left[0]), left[1:]
	}
	if c.output != nil && *c.output != "text" && *c.output != "json" {
		return nil, c.usageError(args, fmt.Errorf("--output %q: want text or json", *c.output)), true
	}
	switch {
	case len(pos) < min:
		return nil, c.usageError(args, fmt.Errorf("missing argument; %s", c.usageLine())), true
	case max >= 0 && len(pos) > max:
		return nil, c.usageError(args, fmt.Errorf("unexpected argument %q; %s", pos[max], c.usageLine())), true
	}
	return pos, exitOK, false
}

// otherSpelling names --output for the JSON flags other tools have
// (--json, -o json): one spelling everywhere, and a newcomer told it.
func (c *command) otherSpelling(err error) error {
	if c.output == nil {
		return err
	}
	switch strings.TrimPrefix(err.Error(), "flag provided but not defined: ") {
	case "-json":
		return errors.New("--json is not a flag: write --output json (every command that reports takes --output text|json)")
	case "-o":
		return errors.New("-o is not a flag: write --output json or --output text")
	}
	return err
}

// usageError reports err as a usage error, in JSON when asked for, and
// returns exit code 2.
func (c *command) usageError(args []string, err error) int {
	if c.json(args) {
		_ = writeJSON(os.Stdout, struct {
			Schema string `json:"schema"`
			Error  string `json:"error"`
		}{c.schema, err.Error()})
		return exitUsage
	}
	fmt.Fprintf(os.Stderr, "signgate %s: %v\nRun 'signgate %s --help' for what it does and its flags.\n", c.name, err, c.name)
	return exitUsage
}

func (c *command) usageLine() string {
	for i := 0; i < len(c.help); i++ {
		if c.help[i] == '\n' {
			return c.help[:i]
		}
	}
	return c.help
}

func (c *command) printHelp(w io.Writer) {
	fmt.Fprint(w, c.help)
	fmt.Fprintln(w, "\nflags:")
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}

// isHelp reports whether args ask for help.
func isHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// given reports whether the flag was set on the command line (not left
// at its default).
func (c *command) given(name string) bool {
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
