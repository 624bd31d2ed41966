// Package devstack runs a local AWS stack for development and tests, on
// 127.0.0.1 only:
//
//   - KMS: local-kms behind kmsproxy, which adds grants and ListKeyPolicies;
//   - SNS and SQS: goaws, with topics, queues and subscriptions from
//     Options (read queues with Stack.ReceiveMessages);
//   - FSx: fsxserver, answering DescribeFileSystems, DescribeBackups and
//     DescribeFileCaches from an inventory;
//   - DynamoDB: Python's moto server (moto_server, not built here: it must
//     be on PATH), with the alert state table (Options.StateTable) created
//     with template.yaml's key schema and TTL attribute (package state's
//     names);
//   - Security Hub: securityhubserver, which enforces what Security Hub
//     enforces on BatchImportFindings (moto's does not: it accepts 101
//     findings, a stale UpdatedAt, a foreign account, and ignores
//     GetFindings filters);
//   - EventBridge (buses, rules, PutEvents delivering to SQS targets): the
//     same moto server as DynamoDB;
//   - STS: stsserver, answering GetCallerIdentity and AssumeRole per
//     account (see the multi-account stack below);
//   - Lambda: aws-lambda-rie running a bootstrap binary (StartLambda).
//
// The Go servers are pinned in tools/go.mod and built into
// <repo>/.devstack/bin when missing. moto was chosen for DynamoDB because
// it is installed on these machines, speaks the real wire protocol to the
// SDK, evaluates condition expressions as DynamoDB documents them (a
// failed condition is ConditionalCheckFailedException) and starts in about
// a second; it never deletes expired TTL items, which fsxkms's readers
// ignore anyway. When moto_server is missing or cannot start, Start fails
// saying what to install.
//
// Env returns the environment that points the AWS SDKs and the AWS CLI at
// the stack through the standard AWS_ENDPOINT_URL_<SERVICE> variables,
// with STATE_TABLE naming the state table; Main runs a test package
// against a stack started once in TestMain.
//
// # Multi-account stack
//
// With Options.MemberAccounts the stack is an organization: the central
// account (Options.Account, whose credentials Env's dummy "test" ones are)
// and its members. Each member has its own local-kms (KMS_ACCOUNT_ID the
// member, so its key ARNs name it) behind the one KMS proxy endpoint, its
// own kmsproxy.Proxy (grants, Simulations, faults, call counters:
// KMSFor), its own FSx inventory behind the one FSx endpoint (FSxFor,
// SetInventoryFor), and the read role (Options.ReadRoleName, default
// fsxkms-read) in the STS stand-in. The KMS and FSx endpoints send each
// request to the account of the access key that signed it (the SigV4
// Authorization header's Credential): the session credentials STS's
// AssumeRole issued for a member's read role, or AccessKeyFor(member) for
// a test that acts as the member directly (CredentialsFor); any other key,
// "test" included, is the central account. A key the stack never issued
// that looks like one of its own is UnrecognizedClientException, expired
// session credentials ExpiredTokenException, as KMS and FSx answer them.
// A request reaches only its own account: a key ARN of another account is
// NotFoundException, as a key the caller's account does not have (KMS's
// cross-account use under a key policy is not simulated). moto's
// DynamoDB, EventBridge and SQS, goaws and the Security Hub stand-in are
// the central account's whoever calls.
package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/devstack/kmsproxy"
	"github.com/fsxkms/fsxkms/internal/devstack/securityhubserver"
	"github.com/fsxkms/fsxkms/internal/devstack/stsserver"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Options configure Start. The zero value is a stack on free ports in
// us-east-1, account 111122223333, with an empty FSx inventory and an
// empty state table named state.DefaultTable.
type Options struct {
	// Region is the AWS Region of the stack; default us-east-1.
	Region string
	// Account is the AWS account ID of the stack; default 111122223333.
	Account string
	// Inventory is the path of an FSx inventory file (see
	// fsxserver.Inventory); empty means no file systems and no backups.
	Inventory string
	// KMSSeed is a local-kms seed file (YAML: keys with fixed ids and
	// aliases) loaded at start; nil starts with no key.
	KMSSeed []byte
	// Topics are SNS topics created at start.
	Topics []string
	// Queues are SQS queues created at start.
	Queues []string
	// Subscriptions subscribe queues to topics at start; the topics and
	// queues they name need not be in Topics and Queues.
	Subscriptions []Subscription
	// StateTable is the name of the DynamoDB table created at start for
	// the alert state; default state.DefaultTable.
	StateTable string
	// Ports of the servers; 0 picks a free port. A busy port is an error.
	KMSPort, LocalKMSPort, SNSPort, FSxPort int
	// DynamoDBPort is moto_server's port; 0 picks a free port.
	DynamoDBPort int
	// SecurityHubPort is the Security Hub stand-in's port; 0 picks a free
	// port.
	SecurityHubPort int
	// STSPort is the STS stand-in's port; 0 picks a free port.
	STSPort int
	// MemberAccounts are member accounts (12-digit ids, e.g. 222233334444)
	// besides Account, the central one: each has a local-kms of its own
	// behind the KMS proxy, an FSx inventory of its own (empty at start)
	// and the read role. None is the single-account stack.
	MemberAccounts []string
	// ReadRoleName is the name of the member accounts' read role, which
	// the central account (Account) may assume; default fsxkms-read.
	ReadRoleName string
	// Dir receives the logs and data of the servers; empty means a
	// temporary directory that Stop removes.
	Dir string
	// Timeout bounds the wait for each server to answer; default 60s.
	Timeout time.Duration
}

// Stack is a running local AWS stack.
type Stack struct {
	// Region and Account of the stack.
	Region, Account string
	// KMSEndpoint is the KMS proxy's URL (what AWS_ENDPOINT_URL_KMS names);
	// LocalKMSEndpoint is the central account's local-kms behind it
	// (LocalKMSEndpointFor(account) a member's).
	KMSEndpoint, LocalKMSEndpoint string
	// SNSEndpoint is goaws's URL.
	SNSEndpoint string
	// FSxEndpoint is the FSx server's URL (every account's).
	FSxEndpoint string
	// DynamoDBEndpoint is moto_server's URL (what AWS_ENDPOINT_URL_DYNAMODB
	// names); StateTable is the state table created there (STATE_TABLE).
	DynamoDBEndpoint, StateTable string
	// DynamoDBReady is how long moto_server took from its start to its
	// first ListTables answer.
	DynamoDBReady time.Duration
	// EventBridgeEndpoint is moto_server's URL too (what
	// AWS_ENDPOINT_URL_EVENTBRIDGE names): its EventBridge delivers events
	// to rules' SQS targets, read with an SQS client on the same URL.
	EventBridgeEndpoint string
	// STSEndpoint is the STS stand-in's URL (what AWS_ENDPOINT_URL_STS
	// names).
	STSEndpoint string
	// STS is the STS stand-in, for its roles, call counters and test
	// hooks (RemoveRole, AddRole, AssumeRoleCalls, SetClock).
	STS *stsserver.Server
	// SecurityHubEndpoint is the Security Hub stand-in's URL (what
	// AWS_ENDPOINT_URL_SECURITYHUB names).
	SecurityHubEndpoint string
	// SecurityHub is the Security Hub stand-in, for what it received and
	// its test hooks.
	SecurityHub *securityhubserver.Server
	// KMS is the central account's KMS proxy, for its grant state and
	// test hooks (KMSFor(account) is a member's).
	KMS *kmsproxy.Proxy
	// FSx is the central account's FSx server, for its inventory and test
	// hooks (FSxFor(account) is a member's).
	FSx *fsxserver.Server
	// Dir holds the logs (local-kms.log, local-kms-<member>.log,
	// goaws.log, moto.log) and local-kms's data.
	Dir string
	// Accounts are the stack's accounts: Account (the central one) first,
	// then Options.MemberAccounts.
	Accounts []string
	// ReadRoleName is the members' read role name; STS.RoleARN(account)
	// is its ARN.
	ReadRoleName string

	kms          map[string]*kmsproxy.Proxy           // by account
	fsx          map[string]*fsxserver.Server         // by account
	securityHubs map[string]*securityhubserver.Server // by account
	localKMS     map[string]string                    // local-kms URLs by account
	tempDir      bool
	procs        []*process
	servers      []*http.Server
	ports        []int
}

// Start starts the stack and waits until every server answers. On error
// it stops what it started.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "111122223333"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.StateTable == "" {
		opts.StateTable = state.DefaultTable
	}
	goawsRes, err := goawsResources(opts)
	if err != nil {
		return nil, err
	}
	inv := fsxserver.Inventory{}
	if opts.Inventory != "" {
		if inv, err = fsxserver.LoadInventory(opts.Inventory); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}
	sts, err := stsserver.New(stsserver.Config{Central: opts.Account, Members: opts.MemberAccounts, ReadRoleName: opts.ReadRoleName})
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	bin, err := Tools()
	if err != nil {
		return nil, err
	}
	s := &Stack{Region: opts.Region, Account: opts.Account, Dir: opts.Dir, StateTable: opts.StateTable, STS: sts,
		Accounts: sts.Accounts(), ReadRoleName: sts.ReadRoleName(),
		kms: map[string]*kmsproxy.Proxy{}, fsx: map[string]*fsxserver.Server{}, localKMS: map[string]string{}}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "devstack-"); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		s.tempDir = true
	} else if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	// Every account's local-kms starts while goaws and moto do; each is
	// waited for after them.
	localKMS := make([]*process, len(s.Accounts))
	for i, account := range s.Accounts {
		if localKMS[i], err = s.launchLocalKMS(bin, opts, account); err != nil {
			return nil, err
		}
	}
	if err := s.startGoaws(ctx, bin, opts, goawsRes); err != nil {
		return nil, err
	}
	if err := s.startMoto(ctx, opts); err != nil {
		return nil, err
	}
	kmsRoutes, fsxRoutes := map[string]http.Handler{}, map[string]http.Handler{}
	for i, account := range s.Accounts {
		endpoint, err := s.waitLocalKMS(ctx, opts, localKMS[i])
		if err != nil {
			return nil, err
		}
		s.localKMS[account] = endpoint
		if s.kms[account], err = kmsproxy.New(endpoint); err != nil {
			return nil, err
		}
		accountInv := fsxserver.Inventory{} // a member's is empty at start
		if account == s.Account {
			accountInv = inv
		}
		if s.fsx[account], err = fsxserver.New(accountInv); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		kmsRoutes[account], fsxRoutes[account] = s.kms[account], s.fsx[account]
	}
	s.KMS, s.FSx, s.LocalKMSEndpoint = s.kms[s.Account], s.fsx[s.Account], s.localKMS[s.Account]
	if s.KMSEndpoint, err = s.serve("KMS proxy", opts.KMSPort, byAccount{s.STS, kmsRoutes}); err != nil {
		return nil, err
	}
	if s.FSxEndpoint, err = s.serve("FSx server", opts.FSxPort, byAccount{s.STS, fsxRoutes}); err != nil {
		return nil, err
	}
	// One Security Hub per account: a member's findings come from the
	// member (its read role), as Security Hub demands.
	shRoutes := map[string]http.Handler{}
	s.securityHubs = map[string]*securityhubserver.Server{}
	for _, account := range s.Accounts {
		s.securityHubs[account] = securityhubserver.New(account, s.Region)
		shRoutes[account] = s.securityHubs[account]
	}
	s.SecurityHub = s.securityHubs[s.Account]
	if s.SecurityHubEndpoint, err = s.serve("Security Hub server", opts.SecurityHubPort, byAccount{s.STS, shRoutes}); err != nil {
		return nil, err
	}
	s.EventBridgeEndpoint = s.DynamoDBEndpoint
	if s.STSEndpoint, err = s.serve("STS server", opts.STSPort, s.STS); err != nil {
		return nil, err
	}
	return s, nil
}

var kmsStarted = regexp.MustCompile(`started on [^ ]*:(\d+)`)

// launchLocalKMS starts the local-kms of account: the central account's
// on opts.LocalKMSPort with opts.KMSSeed, writing local-kms.log and
// kms-data; a member's on a free port with no key, writing
// local-kms-<account>.log and kms-data-<account>. waitLocalKMS waits for
// it.
func (s *Stack) launchLocalKMS(bin string, opts Options, account string) (*process, error) {
	name, suffix, port := "local-kms", "", 0
	if account != s.Account {
		name, suffix = "local-kms (account "+account+")", "-"+account
	} else if port = opts.LocalKMSPort; port != 0 {
		if err := checkPortFree("local-kms", port); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
	}
	data := filepath.Join(s.Dir, "kms-data"+suffix)
	os.RemoveAll(data)
	seed := filepath.Join(s.Dir, "kms-seed-none.yaml")
	if opts.KMSSeed != nil && account == s.Account {
		seed = filepath.Join(s.Dir, "kms-seed.yaml")
		if err := os.WriteFile(seed, opts.KMSSeed, 0o644); err != nil {
			return nil, fmt.Errorf("devstack: write local-kms seed: %w", err)
		}
	}
	p, err := startProcess(name, filepath.Join(bin, "local-kms"), nil, []string{
		"PORT=" + strconv.Itoa(port), // 0: local-kms picks a free port and logs it
		"KMS_REGION=" + opts.Region,
		"KMS_ACCOUNT_ID=" + account,
		"KMS_DATA_PATH=" + data,
		"KMS_SEED_PATH=" + seed,
	}, filepath.Join(s.Dir, "local-kms"+suffix+".log"))
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// waitLocalKMS waits until the local-kms p answers ListKeys and returns
// its URL.
func (s *Stack) waitLocalKMS(ctx context.Context, opts Options, p *process) (string, error) {
	port, endpoint := 0, ""
	err := p.waitReady(ctx, opts.Timeout, func() error {
		if port == 0 {
			b, _ := os.ReadFile(p.logPath)
			m := kmsStarted.FindSubmatch(b)
			if m == nil {
				return errors.New(`no "started on" line in its log yet`)
			}
			port, _ = strconv.Atoi(string(m[1]))
			s.ports = append(s.ports, port)
			endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		}
		return postJSON(endpoint, "TrentService.ListKeys", "{}")
	})
	if err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	return endpoint, nil
}

// startGoaws starts goaws with resources, the Queues and Topics sections
// of its config (goawsResources).
func (s *Stack) startGoaws(ctx context.Context, bin string, opts Options, resources string) error {
	if opts.SNSPort != 0 {
		if err := checkPortFree("goaws", opts.SNSPort); err != nil {
			return fmt.Errorf("devstack: %w", err)
		}
	}
	port, err := s.onFreePort(opts.SNSPort, func(port int) (*process, error) {
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "Local:\n  Host: 127.0.0.1\n  Port: %d\n  Region: %s\n  AccountId: %q\n  LogToFile: false\n", port, opts.Region, opts.Account)
		// A message received and not deleted is hidden this long; ReceiveMessages deletes.
		cfg.WriteString("  QueueAttributeDefaults:\n    VisibilityTimeout: 30\n    ReceiveMessageWaitTimeSeconds: 0\n")
		cfg.WriteString(resources)
		cfgPath := filepath.Join(s.Dir, "goaws.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
			return nil, fmt.Errorf("goaws config: %w", err)
		}
		p, err := startProcess("goaws", filepath.Join(bin, "goaws"), []string{"-config", cfgPath, "Local"}, nil, filepath.Join(s.Dir, "goaws.log"))
		if err != nil {
			return nil, err
		}
		return p, p.waitReady(ctx, opts.Timeout, func() error {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /health: %s", resp.Status)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.SNSEndpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	return nil
}

// serve runs h on 127.0.0.1:port (0: a free port) and returns its URL.
func (s *Stack) serve(name string, port int, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", fmt.Errorf("devstack: %s: port %d is busy or unusable (%w); choose another port or 0 for a free one", name, port, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	s.servers = append(s.servers, srv)
	p := l.Addr().(*net.TCPAddr).Port
	s.ports = append(s.ports, p)
	return "http://127.0.0.1:" + strconv.Itoa(p), nil
}

// postJSON sends an AWS JSON 1.1 request and wants a 200 answer.
func postJSON(endpoint, target, body string) error {
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", target, resp.Status)
	}
	return nil
}

// Ports returns the TCP ports the stack listens on.
func (s *Stack) Ports() []int { return append([]int(nil), s.ports...) }

// Pids returns the process IDs of the stack's child servers.
func (s *Stack) Pids() []int {
	var pids []int
	for _, p := range s.procs {
		pids = append(pids, p.Pid())
	}
	return pids
}

// Env returns the environment that points the AWS SDKs and the AWS CLI at
// the stack, as KEY=value strings, and STATE_TABLE, which has fsxkms keep
// its alert state in the stack's table. It also disables the EC2 metadata
// service and hides the user's AWS config and credentials files.
func (s *Stack) Env() []string {
	return []string{
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_KMS=" + s.KMSEndpoint,
		"AWS_ENDPOINT_URL_SNS=" + s.SNSEndpoint,
		"AWS_ENDPOINT_URL_FSX=" + s.FSxEndpoint,
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_SECURITYHUB=" + s.SecurityHubEndpoint,
		"AWS_ENDPOINT_URL_EVENTBRIDGE=" + s.EventBridgeEndpoint,
		"AWS_ENDPOINT_URL_STS=" + s.STSEndpoint,
		"STATE_TABLE=" + s.StateTable,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Setenv sets every variable of Env in the current process and unsets
// AWS_PROFILE, AWS_SESSION_TOKEN and AWS_ENDPOINT_URL, which would
// otherwise leak the user's setup into the stack's clients.
func (s *Stack) Setenv() error {
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		os.Unsetenv(k)
	}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("devstack: setenv %s: %w", k, err)
		}
	}
	return nil
}

// Stop stops the servers and child processes (their whole process
// groups), checks that none of the stack's ports is still open, and
// removes the temporary directory if Start made one. It is safe to call
// more than once.
func (s *Stack) Stop() error {
	var errs []error
	// Close, not Shutdown: the SDK's transport can leave a connection it
	// dialed but never used, which Shutdown counts as busy for its first
	// five seconds, so each Shutdown ran out its timeout after a test.
	// Whoever calls Stop is done with the stack.
	for _, srv := range s.servers {
		srv.Close()
	}
	s.servers = nil
	for _, v := range slices.Backward(s.procs) {
		if err := v.stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	s.procs = nil
	if err := waitPortsClosed(s.ports, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	if s.tempDir {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, err)
		}
		s.tempDir = false
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("devstack: stop: %w", err)
	}
	return nil
}

// Fault is an error injected into a KMS proxy or FSx server operation
// (Stack.KMS.Inject, Stack.FSx.Inject).
type Fault = kmsproxy.Fault
