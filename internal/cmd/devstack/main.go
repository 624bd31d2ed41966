// Command devstack runs the local AWS stack (see package
// internal/devstack) in the background for development by hand.
//
// Usage:
//
//	devstack up -dir D [-inventory FILE | -demo] [-region R] [-account A] [-members M1,M2 [-read-role NAME]]
//	devstack sam-env -dir D [-template template.yaml]
//	devstack down -dir D
//
// "up" starts the stack as a detached daemon ("devstack serve"), waits
// until it answers and writes D/env, a shell file of export lines, so
// ". D/env" points the AWS CLI and the SDKs at the stack, including
// AWS_ENDPOINT_URL_DYNAMODB (moto_server) and STATE_TABLE, the alert state
// table, so that fsxkms run from that shell (make demo, make invoke) keeps
// its alert state there by default. The daemon logs
// to D/devstack.log and keeps its pid in D/devstack.pid. "up" also writes
// D/sam-env.json, SAM's --env-vars file that points the functions of
// template.yaml at the stack (make sam-invoke); "sam-env" writes it again
// and fails when SAM would drop an endpoint variable. "down" stops the
// daemon and checks that no process and no port of the stack is left.
//
// -members makes the stack multi-account (devstack.Options.MemberAccounts):
// each member account has its own local-kms and FSx inventory (empty) and
// the read role (-read-role, default fsxkms-read) that the central
// account (-account) may assume. D/env stays the central account's; up
// prints each member's read role ARN and the access key that acts as the
// member directly.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: devstack up|down|sam-env|serve -dir D [-inventory FILE | -demo] [-template FILE] [-members M1,M2 [-read-role NAME]]")
		return 2
	}
	fs := flag.NewFlagSet("devstack "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".devstack", "directory for the env file, log, pid and state")
	inventory := fs.String("inventory", "", "FSx inventory JSON file (default: none)")
	demo := fs.Bool("demo", false, "seed the demo world (internal/scenario): 3 keys with FSx-style policies and grants, 7 FSx resources")
	region := fs.String("region", "us-east-1", "AWS Region of the stack")
	account := fs.String("account", "111122223333", "AWS account ID of the stack")
	timeout := fs.Duration("timeout", 90*time.Second, "how long up waits for the stack")
	template := fs.String("template", "", "SAM template whose functions sam-env.json names (default: the repository's template.yaml)")
	members := fs.String("members", "", "member account ids, comma-separated (e.g. 222233334444,333344445555): a multi-account stack")
	readRole := fs.String("read-role", "fsxkms-read", "name of the member accounts' read role, which the central account may assume")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	p := paths(abs)
	if *demo && (*inventory != "" || *region != scenario.Region || *account != scenario.Account) {
		fmt.Fprintf(stderr, "devstack: -demo is the demo world's own inventory, account %s and Region %s: it takes no -inventory, -account or -region\n", scenario.Account, scenario.Region)
		return 2
	}
	memberList := splitAccounts(*members)
	switch args[0] {
	case "up":
		err = up(p, *inventory, *demo, *region, *account, memberList, *readRole, *timeout, *template, stdout)
	case "down":
		err = down(p, stdout)
	case "sam-env":
		err = samEnvCommand(p, *template, stdout)
	case "serve":
		err = serve(p, devstack.Options{Region: *region, Account: *account, Inventory: *inventory, MemberAccounts: memberList, ReadRoleName: *readRole}, *demo)
	default:
		fmt.Fprintf(stderr, "devstack: unknown command %q (want up, down, sam-env or serve)\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	return 0
}

// files are the daemon's files in the -dir directory.
type files struct{ dir, env, log, pid, state, data, samEnv string }

func paths(dir string) files {
	return files{
		dir:    dir,
		env:    filepath.Join(dir, "env"),
		log:    filepath.Join(dir, "devstack.log"),
		pid:    filepath.Join(dir, "devstack.pid"),
		state:  filepath.Join(dir, "state.json"),
		data:   filepath.Join(dir, "stack"),
		samEnv: filepath.Join(dir, "sam-env.json"),
	}
}

// state is what serve records for up and down.
type state struct {
	Pid   int   `json:"pid"`
	Pids  []int `json:"childPids"`
	Ports []int `json:"ports"`
	// Endpoints maps a server's name to its URL.
	Endpoints map[string]string `json:"endpoints"`
	Env       []string          `json:"env"`
	// Members are the member accounts of a multi-account stack.
	Members []member `json:"members,omitempty"`
}

// member is what up prints of a member account.
type member struct {
	Account   string `json:"account"`
	ReadRole  string `json:"readRole"`
	AccessKey string `json:"accessKey"`
}

// splitAccounts splits a comma-separated list, dropping spaces and empty
// items.
func splitAccounts(list string) []string {
	var out []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// running returns the pid of a live daemon of p, or 0.
func running(p files) int {
	b, err := os.ReadFile(p.pid)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	return pid
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is dead for our purpose.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return false
		}
	}
	return true
}

func up(p files, inventory string, demo bool, region, account string, members []string, readRole string, timeout time.Duration, template string, stdout io.Writer) error {
	if pid := running(p); pid != 0 {
		return fmt.Errorf("already running (pid %d, see %s): stop it first with make devstack-down (or devstack down -dir %s)", pid, p.pid, p.dir)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	if inventory != "" {
		abs, err := filepath.Abs(inventory)
		if err != nil {
			return err
		}
		inventory = abs
	}
	for _, f := range []string{p.env, p.state, p.pid, p.samEnv} {
		os.Remove(f)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to start the daemon: %w", err)
	}
	logFile, err := os.Create(p.log)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(self, "serve", "-dir", p.dir, "-inventory", inventory, "-region", region, "-account", account, "-demo="+strconv.FormatBool(demo),
		"-members", strings.Join(members, ","), "-read-role", readRole)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the daemon: %w", err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(p.pid, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.After(timeout)
	for {
		if b, err := os.ReadFile(p.state); err == nil {
			var st state
			if err := json.Unmarshal(b, &st); err == nil && st.Pid == pid {
				fmt.Fprintf(stdout, "devstack: running (pid %d), log %s\n", pid, p.log)
				names := make([]string, 0, len(st.Endpoints))
				for n := range st.Endpoints {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintf(stdout, "devstack:   %-36s %s\n", n, st.Endpoints[n])
				}
				for _, m := range st.Members {
					fmt.Fprintf(stdout, "devstack: member account %s: read role %s; act as the member with AWS_ACCESS_KEY_ID=%s (any secret)\n", m.Account, m.ReadRole, m.AccessKey)
				}
				if len(st.Members) > 0 {
					fmt.Fprintf(stdout, "devstack: %s is the central account's (%s): its test credentials may assume the members' read roles\n", p.env, account)
				}
				fmt.Fprintf(stdout, "devstack: wrote %s; load it with: . %s\n", p.env, p.env)
				env, _ := os.ReadFile(p.env)
				stdout.Write(env)
				if template == "" {
					template = defaultTemplate()
				}
				if template != "" {
					fns, drop, err := writeSAMEnv(p, template, st.Env)
					if err != nil {
						return fmt.Errorf("the stack runs, but %s was not written: %w", p.samEnv, err)
					}
					reportSAMEnv(stdout, p, fns, drop)
				}
				return nil
			}
		}
		select {
		case err := <-exited:
			os.Remove(p.pid)
			return fmt.Errorf("the daemon exited (%v) before the stack was ready; last lines of %s:\n%s", err, p.log, devstack.LogTail(p.log, 20))
		case <-deadline:
			syscall.Kill(-pid, syscall.SIGTERM)
			return fmt.Errorf("the stack was not ready within %v; last lines of %s:\n%s", timeout, p.log, devstack.LogTail(p.log, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func down(p files, stdout io.Writer) error {
	pid := running(p)
	var st state
	if b, err := os.ReadFile(p.state); err == nil {
		json.Unmarshal(b, &st)
	}
	if pid == 0 && st.Pid == 0 {
		fmt.Fprintln(stdout, "devstack: not running")
		return nil
	}
	if pid != 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone([]int{pid}, 15*time.Second) {
			syscall.Kill(-pid, syscall.SIGKILL)
			waitGone([]int{pid}, 5*time.Second)
		}
	}
	// The children die with the daemon (parent-death signal), but check.
	for _, c := range st.Pids {
		if alive(c) {
			syscall.Kill(-c, syscall.SIGKILL)
		}
	}
	var problems []string
	if !waitGone(append([]int{pid}, st.Pids...), 5*time.Second) {
		problems = append(problems, "processes still alive")
	}
	if open := openPorts(st.Ports, 5*time.Second); len(open) > 0 {
		problems = append(problems, fmt.Sprintf("ports still open: %v", open))
	}
	if len(problems) > 0 {
		return fmt.Errorf("stopped with problems: %s; see %s", strings.Join(problems, "; "), p.log)
	}
	for _, f := range []string{p.env, p.state, p.pid, p.samEnv} {
		os.Remove(f)
	}
	fmt.Fprintf(stdout, "devstack: stopped (pid %d); no process and no port (%v) left\n", pid, st.Ports)
	return nil
}

func waitGone(pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := false
		for _, pid := range pids {
			if pid > 0 && alive(pid) {
				left = true
			}
		}
		if !left {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openPorts returns the ports that still accept connections after timeout.
func openPorts(ports []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var open []int
		for _, port := range ports {
			if c, err := dial(port); err == nil {
				c.Close()
				open = append(open, port)
			}
		}
		if len(open) == 0 || time.Now().After(deadline) {
			return open
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// envFile is the env file at path: a shell file of export lines, one for
// each of env's KEY=value, that points the AWS CLI and SDKs at the stack.
func envFile(path string, env []string) []byte {
	var b strings.Builder
	b.WriteString("# Written by devstack up; load with: . " + path + "\n")
	b.WriteString("# AWS_ENDPOINT_URL_<SERVICE> needs AWS CLI v2 >= 2.13 or v1 >= 1.29 (botocore >= 1.31);\n")
	b.WriteString("# older CLIs (Debian 12's awscli 2.9.19) need --endpoint-url \"$AWS_ENDPOINT_URL_KMS\".\n")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	b.WriteString("unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL\n")
	return []byte(b.String())
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// shellQuote quotes v for a POSIX shell.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
