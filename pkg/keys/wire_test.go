package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
	"github.com/fsxkms/fsxkms/pkg/check"
)

// These tests run the real SDK client against a small HTTP server that
// speaks the KMS JSON 1.1 wire protocol (X-Amz-Target TrentService.<op>)
// and answers what a test tells it to: the SDK's own decoding, paginators
// and deadlines are under test, not a mock of them.

const (
	testARN   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	otherARN  = "arn:aws:kms:us-east-1:999999999999:key/ffffffff-12ab-34cd-56ef-1234567890ab"
	testAlias = "arn:aws:kms:us-east-1:111122223333:alias/fsx-prod"
	// rootPolicy delegates to IAM: usable by FSx as far as fsxkms can see.
	rootPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
)

// metadata is a DescribeKey answer for arn in state.
func metadata(arn, state string) string {
	id := arn[strings.LastIndex(arn, "/")+1:]
	return fmt.Sprintf(`{"KeyMetadata":{"Arn":%q,"KeyId":%q,"AWSAccountId":"111122223333","KeyState":%q,`+
		`"KeyManager":"CUSTOMER","KeySpec":"SYMMETRIC_DEFAULT","Origin":"AWS_KMS","CreationDate":1.7e9,"Enabled":true}}`, arn, id, state)
}

// answer is how the fake KMS answers one operation: call is the 1-based
// number of this call of the operation.
type answer func(w http.ResponseWriter, r *http.Request, call int)

// body answers every call with the same 200 JSON body.
func body(b string) answer {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", awsjson.ContentType)
		w.Write([]byte(b))
	}
}

// hang never answers: it waits until the client goes away or the test
// ends. It reads the request first: the server notices a client that hangs
// up only once the body is read.
func hang(_ http.ResponseWriter, r *http.Request, _ int) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// pages answers call n with page(n).
func pages(page func(n int) string) answer {
	return func(w http.ResponseWriter, r *http.Request, n int) { body(page(n))(w, r, n) }
}

// endlessGrants: every page is truncated and names a new marker.
func endlessGrants(n int) string {
	return fmt.Sprintf(`{"Grants":[{"KeyId":%q,"GrantId":"g%d","GranteePrincipal":"fsx.amazonaws.com","Operations":["Decrypt"]}],`+
		`"NextMarker":"m%d","Truncated":true}`, testARN, n, n)
}

// fakeKMS is the server; the counts are per operation.
type fakeKMS struct {
	done    chan struct{} // closed at the end of the test: hung calls return
	mu      sync.Mutex
	calls   map[string]int
	answers map[string]answer
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := awsjson.Operation(r, "TrentService")
	if !ok {
		awsjson.WriteError(w, http.StatusBadRequest, "UnknownOperationException", "no X-Amz-Target")
		return
	}
	f.mu.Lock()
	f.calls[op]++
	n := f.calls[op]
	a := f.answers[op]
	f.mu.Unlock()
	if a == nil {
		awsjson.WriteError(w, http.StatusBadRequest, "UnsupportedOperationException", op+" not in this test")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-f.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	a(w, r.WithContext(ctx), n)
}

func (f *fakeKMS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// serve starts the fake KMS and returns a real SDK client pointed at it.
func serve(t *testing.T, answers map[string]answer) (*kms.Client, *fakeKMS) {
	t.Helper()
	f := &fakeKMS{done: make(chan struct{}), calls: map[string]int{}, answers: answers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs first
	c := kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   srv.Client(),
	})
	return c, f
}

// healthy answers a whole Read of testARN: an enabled key, a policy that
// delegates to IAM, and two pages of FSx grants.
func healthy() map[string]answer {
	return map[string]answer{
		"DescribeKey":  body(metadata(testARN, "Enabled")),
		"GetKeyPolicy": body(fmt.Sprintf(`{"Policy":%q,"PolicyName":"default"}`, rootPolicy)),
		"ListGrants": pages(func(n int) string {
			if n == 1 {
				return endlessGrants(1)
			}
			return fmt.Sprintf(`{"Grants":[{"KeyId":%q,"GrantId":"g2","GranteePrincipal":"fsx.amazonaws.com"}],"Truncated":false}`, testARN)
		}),
		"ListAliases": body(`{"Aliases":[{"AliasName":"alias/fsx-prod","TargetKeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}],"Truncated":false}`),
	}
}

// with returns healthy answers with op answered by a instead.
func with(op string, a answer) map[string]answer {
	m := healthy()
	m[op] = a
	return m
}

// TestReadEmptyAnswers: an answer that says nothing about the key is a read
// failure (MONITOR_READ_FAILED), never a healthy key. Rule (KMS API): a
// DescribeKey result carries KeyMetadata with the key's Arn and KeyState;
// GetKeyPolicy carries Policy; ListGrants goes on while Truncated, with
// NextMarker.
func TestReadEmptyAnswers(t *testing.T) {
	tests := []struct {
		name     string
		answers  map[string]answer
		call     string // the ReadError's call; "" = no read error
		message  string // in the ReadError's message
		sentinel error
		grants   int // grants read (when the listing succeeded)
		state    string
		listed   int // ListGrants calls made
	}{
		{name: "healthy", answers: healthy(), grants: 2, state: "Enabled", listed: 2},
		{name: "DescribeKey {}", answers: with("DescribeKey", body(`{}`)),
			call: "kms:DescribeKey", message: "no KeyMetadata", sentinel: ErrEmptyAnswer, grants: 2, listed: 2},
		{name: "DescribeKey KeyMetadata null", answers: with("DescribeKey", body(`{"KeyMetadata":null}`)),
			call: "kms:DescribeKey", message: "no KeyMetadata", sentinel: ErrEmptyAnswer, grants: 2, listed: 2},
		{name: "DescribeKey without KeyState", answers: with("DescribeKey", body(strings.Replace(metadata(testARN, ""), `"KeyState":"",`, "", 1))),
			call: "kms:DescribeKey", message: "no KeyState", sentinel: ErrEmptyAnswer, grants: 2, listed: 2},
		{name: "DescribeKey about another key", answers: with("DescribeKey", body(metadata(otherARN, "Enabled"))),
			call: "kms:DescribeKey", message: "999999999999", sentinel: ErrOtherKey, grants: 2, listed: 2},
		{name: "DescribeKey without Arn", answers: with("DescribeKey", body(`{"KeyMetadata":{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","KeyState":"Enabled"}}`)),
			call: "kms:DescribeKey", message: `got KeyMetadata.Arn ""`, sentinel: ErrOtherKey, grants: 2, listed: 2},
		{name: "GetKeyPolicy Policy null", answers: with("GetKeyPolicy", body(`{"Policy":null}`)),
			call: "kms:GetKeyPolicy", message: "no Policy", sentinel: ErrEmptyAnswer, grants: 2, state: "Enabled", listed: 2},
		{name: "GetKeyPolicy {}", answers: with("GetKeyPolicy", body(`{}`)),
			call: "kms:GetKeyPolicy", message: "no Policy", sentinel: ErrEmptyAnswer, grants: 2, state: "Enabled", listed: 2},
		{name: "GetKeyPolicy blank", answers: with("GetKeyPolicy", body(`{"Policy":"  \n"}`)),
			call: "kms:GetKeyPolicy", message: "no Policy", sentinel: ErrEmptyAnswer, grants: 2, state: "Enabled", listed: 2},
		{name: "ListGrants endless", answers: with("ListGrants", pages(endlessGrants)),
			call: "kms:ListGrants", message: "stopped after 100 pages", sentinel: ErrTooManyPages, state: "Enabled", listed: DefaultMaxPages},
		{name: "ListGrants repeats its marker", answers: with("ListGrants", pages(func(int) string { return endlessGrants(7) })),
			call: "kms:ListGrants", message: `NextMarker "m7"`, sentinel: ErrRepeatedToken, state: "Enabled", listed: 2},
		{name: "ListGrants truncated without marker", answers: with("ListGrants", body(`{"Grants":[],"Truncated":true}`)),
			call: "kms:ListGrants", message: "Truncated without NextMarker", sentinel: ErrEmptyAnswer, state: "Enabled", listed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := serve(t, tt.answers)
			s, err := Read(context.Background(), c, testARN)
			if err != nil {
				t.Fatalf("Read: %v (want the failure recorded in the snapshot)", err)
			}
			if s.Key.State != tt.state {
				t.Errorf("key state = %q, want %q (metadata that does not describe the key must not be used)", s.Key.State, tt.state)
			}
			if s.Key.ARN != testARN {
				t.Errorf("key ARN = %q, want the one asked for", s.Key.ARN)
			}
			if got := f.count("ListGrants"); got != tt.listed || strings.Count(strings.Join(s.Calls, " "), "ListGrants") != tt.listed {
				t.Errorf("ListGrants calls: server saw %d, snapshot says %v; want %d", got, s.Calls, tt.listed)
			}
			if tt.call == "" {
				if len(s.Errors) != 0 {
					t.Errorf("errors = %+v, want none", s.Errors)
				}
			} else {
				if len(s.Errors) != 1 {
					t.Fatalf("errors = %+v, want one for %s", s.Errors, tt.call)
				}
				e := s.Errors[0]
				if e.Call != tt.call || e.Kind != check.OtherError || !strings.Contains(e.Message, tt.message) ||
					!strings.Contains(e.Message, tt.sentinel.Error()) {
					t.Errorf("error = %+v, want call %s, kind %s, message with %q and %q", e, tt.call, check.OtherError, tt.message, tt.sentinel)
				}
			}
			if wantRead := tt.call != "kms:ListGrants"; s.GrantsRead != wantRead || (wantRead && len(s.Grants) != tt.grants) {
				t.Errorf("grants read = %v with %d grants, want %v with %d", s.GrantsRead, len(s.Grants), wantRead, tt.grants)
			}

			// What the check makes of it: never a healthy key.
			rep := check.Check(check.Input{Key: s.Key, Policy: s.Policy, Grants: s.Grants, GrantsRead: s.GrantsRead,
				Errors: s.Errors, Now: time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)})
			var codes []string
			for _, f := range rep.Findings {
				codes = append(codes, string(f.Code))
			}
			if tt.call == "" {
				if rep.Status != check.Compliant {
					t.Errorf("healthy key: status %s, codes %v; want COMPLIANT", rep.Status, codes)
				}
				return
			}
			if rep.Status == check.Compliant || !slices.Contains(codes, string(check.CodeMonitorReadFailed)) {
				t.Errorf("status %s, codes %v; want not COMPLIANT, with %s", rep.Status, codes, check.CodeMonitorReadFailed)
			}
		})
	}
}

// fail answers every call with a KMS error.
func fail(status int, code string) answer {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		awsjson.WriteError(w, status, code, code+" from the test")
	}
}

// TestReadRefused: AccessDenied and NotFound answers are recorded, not
// returned; after NotFound nothing more is read; any other answer is an
// error naming the call, and ends the read (the key is not judged).
func TestReadRefused(t *testing.T) {
	denied, notFound := fail(400, "AccessDeniedException"), fail(400, "NotFoundException")
	all := "DescribeKey GetKeyPolicy ListGrants ListGrants"
	tests := []struct {
		op, name string
		a        answer
		kind     string // a check.ReadError kind; "" = Read fails
		calls    string
	}{
		{"DescribeKey", "denied", denied, check.AccessDenied, all},
		{"DescribeKey", "not found", notFound, check.NotFound, "DescribeKey"},
		{"DescribeKey", "invalid", fail(400, "InvalidArnException"), "", "DescribeKey"},
		{"GetKeyPolicy", "denied", denied, check.AccessDenied, all},
		{"GetKeyPolicy", "not found", notFound, check.NotFound, "DescribeKey GetKeyPolicy"},
		{"GetKeyPolicy", "invalid", fail(400, "InvalidArnException"), "", "DescribeKey GetKeyPolicy"},
		{"ListGrants", "denied", denied, check.AccessDenied, "DescribeKey GetKeyPolicy ListGrants"},
		{"ListGrants", "not found", notFound, check.NotFound, "DescribeKey GetKeyPolicy ListGrants"},
		{"ListGrants", "invalid", fail(400, "InvalidArnException"), "", "DescribeKey GetKeyPolicy ListGrants"},
	}
	for _, tt := range tests {
		t.Run(tt.op+" "+tt.name, func(t *testing.T) {
			c, _ := serve(t, with(tt.op, tt.a))
			s, err := Read(context.Background(), c, testARN)
			if got := strings.Join(s.Calls, " "); got != tt.calls {
				t.Errorf("calls %q, want %q", got, tt.calls)
			}
			if tt.kind == "" {
				if err == nil || !strings.Contains(err.Error(), "kms:"+tt.op+" "+testARN) || Refused(err) {
					t.Errorf("Read = %v, want an error naming kms:%s and the key, not a refusal", err, tt.op)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v, want the refusal recorded", err)
			}
			if len(s.Errors) != 1 || s.Errors[0].Call != "kms:"+tt.op || s.Errors[0].Kind != tt.kind {
				t.Errorf("errors %+v, want one %s for kms:%s", s.Errors, tt.kind, tt.op)
			}
			if wantPolicy := tt.op != "GetKeyPolicy" && strings.Contains(tt.calls, "GetKeyPolicy"); wantPolicy != (s.Policy != "") {
				t.Errorf("policy read = %v, want %v", s.Policy != "", wantPolicy)
			}
			if s.GrantsRead != (tt.calls == all) {
				t.Errorf("grants read = %v, want %v", s.GrantsRead, tt.calls == all)
			}
		})
	}
}

// TestReadTimeout: a call that never answers fails within its own timeout,
// as an error (the key was not judged; the caller retries or reports it).
func TestReadTimeout(t *testing.T) {
	for _, op := range []string{"DescribeKey", "GetKeyPolicy", "ListGrants"} {
		t.Run(op, func(t *testing.T) {
			c, _ := serve(t, with(op, hang))
			const timeout = 200 * time.Millisecond
			start := time.Now()
			_, err := Read(context.Background(), c, testARN, WithCallTimeout(timeout))
			took := time.Since(start)
			if !errors.Is(err, ErrCallTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "kms:"+op) {
				t.Fatalf("Read = %v, want an error naming kms:%s, with ErrCallTimeout and context.DeadlineExceeded", err, op)
			}
			if Refused(err) {
				t.Errorf("Refused(%v) = true; a timeout is not an answer about the key", err)
			}
			if took > 5*time.Second {
				t.Errorf("Read took %v with a %v call timeout", took, timeout)
			}
		})
	}
}

// TestCallerDeadline: when the caller's own context ends first, the error is
// the caller's, not ErrCallTimeout.
func TestCallerDeadline(t *testing.T) {
	c, _ := serve(t, with("DescribeKey", hang))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Read(ctx, c, testARN)
	if err == nil || errors.Is(err, ErrCallTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read = %v, want the caller's deadline, not ErrCallTimeout", err)
	}
}

func TestAliases(t *testing.T) {
	endless := func(n int) string {
		return `{"Aliases":[{"AliasName":"alias/a` + strconv.Itoa(n) + `"}],"NextMarker":"m` + strconv.Itoa(n) + `","Truncated":true}`
	}
	tests := []struct {
		name     string
		answer   answer
		opts     []Option
		want     int // names returned
		sentinel error
		calls    int
	}{
		{name: "two pages", answer: pages(func(n int) string {
			if n == 1 {
				return endless(1)
			}
			return `{"Aliases":[{"AliasName":"alias/fsx-prod"}],"Truncated":false}`
		}), want: 2, calls: 2},
		{name: "endless", answer: pages(endless), want: DefaultMaxPages, sentinel: ErrTooManyPages, calls: DefaultMaxPages},
		{name: "endless, 3 pages allowed", answer: pages(endless), opts: []Option{WithMaxPages(3)}, want: 3, sentinel: ErrTooManyPages, calls: 3},
		{name: "repeated marker", answer: pages(func(int) string { return endless(4) }), want: 2, sentinel: ErrRepeatedToken, calls: 2},
		{name: "truncated without marker", answer: body(`{"Aliases":[],"Truncated":true}`), sentinel: ErrEmptyAnswer, calls: 1},
		{name: "hangs", answer: hang, opts: []Option{WithCallTimeout(200 * time.Millisecond)}, sentinel: ErrCallTimeout, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := serve(t, with("ListAliases", tt.answer))
			names, err := Aliases(context.Background(), c, testARN, tt.opts...)
			if tt.sentinel == nil && err != nil || tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("Aliases error = %v, want %v", err, tt.sentinel)
			}
			if err != nil && !strings.Contains(err.Error(), "kms:ListAliases") {
				t.Errorf("error %q does not name the call", err)
			}
			if len(names) != tt.want || f.count("ListAliases") != tt.calls {
				t.Errorf("got %d names in %d calls, want %d in %d", len(names), f.count("ListAliases"), tt.want, tt.calls)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		alias    string
		answer   string
		want     string
		sentinel error
	}{
		{"alias ARN", testAlias, metadata(testARN, "Enabled"), testARN, nil},
		{"alias name", "alias/fsx-prod", metadata(testARN, "Enabled"), testARN, nil},
		{"empty answer", testAlias, `{}`, "", ErrEmptyAnswer},
		{"no ARN", testAlias, `{"KeyMetadata":{"KeyState":"Enabled"}}`, "", ErrEmptyAnswer},
		{"key in another account", testAlias, metadata(otherARN, "Enabled"), "", ErrOtherKey},
		{"key in another Region", testAlias, metadata(strings.Replace(testARN, "us-east-1", "eu-west-1", 1), "Enabled"), "", ErrOtherKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := serve(t, with("DescribeKey", body(tt.answer)))
			got, err := Resolve(context.Background(), c, tt.alias)
			if got != tt.want || (tt.sentinel == nil) != (err == nil) || tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("Resolve = %q, %v; want %q, %v", got, err, tt.want, tt.sentinel)
			}
		})
	}
}

func TestQuoteClips(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	q := quote(long)
	if !strings.HasSuffix(q, "(clipped, 600 bytes)") || len(q) > maxQuoted+64 {
		t.Errorf("quote(600 bytes) = %d bytes: %q", len(q), q)
	}
	if got := quote("a\nb"); got != `"a\nb"` {
		t.Errorf("quote = %s, want the newline escaped", got)
	}
}

// TestTimeoutPerCall: the timeout bounds each call, not the whole read; a
// read of slow but answering calls takes longer than one timeout and works.
func TestTimeoutPerCall(t *testing.T) {
	slow := func(a answer) answer {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			time.Sleep(120 * time.Millisecond)
			a(w, r, n)
		}
	}
	answers := healthy()
	for op, a := range answers {
		answers[op] = slow(a)
	}
	c, _ := serve(t, answers)
	s, err := Read(context.Background(), c, testARN, WithCallTimeout(time.Second/2))
	if err != nil || len(s.Errors) != 0 || !s.GrantsRead || s.Key.State != "Enabled" {
		t.Errorf("Read of slow calls = %+v, %v; want a full snapshot", s, err)
	}
}
