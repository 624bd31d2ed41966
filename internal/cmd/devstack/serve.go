package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

// serve runs the stack in the foreground until SIGTERM or SIGINT; with
// demo, seeded with the demo world.
func serve(p files, opts devstack.Options, demo bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	opts.Dir = p.data
	if demo {
		opts.KMSSeed = scenario.SeedYAML()
	}
	s, err := devstack.Start(ctx, opts)
	if err != nil {
		return err
	}
	if demo {
		if err := seedDemo(ctx, s); err != nil {
			return errors.Join(err, s.Stop())
		}
	}
	st := state{Pid: os.Getpid(), Pids: s.Pids(), Ports: s.Ports(), Env: s.Env(), Endpoints: map[string]string{
		"kms (proxy, AWS_ENDPOINT_URL_KMS)": s.KMSEndpoint,
		"local-kms (behind the proxy)":      s.LocalKMSEndpoint,
		"sns (goaws)":                       s.SNSEndpoint,
		"fsx":                               s.FSxEndpoint,
		"dynamodb (moto_server)":            s.DynamoDBEndpoint,
		"eventbridge (moto_server)":         s.EventBridgeEndpoint,
		"securityhub (stand-in)":            s.SecurityHubEndpoint,
		"sts (stand-in)":                    s.STSEndpoint,
	}}
	for _, a := range s.Accounts[1:] {
		st.Endpoints["local-kms "+a+" (member)"] = s.LocalKMSEndpointFor(a)
		st.Members = append(st.Members, member{Account: a, ReadRole: s.ReadRoleARN(a), AccessKey: devstack.AccessKeyFor(a)})
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	werr := errors.Join(writeAtomic(p.env, envFile(p.env, s.Env())), writeAtomic(p.state, b))
	if werr == nil {
		fmt.Printf("devstack: ready: KMS %s (local-kms %s), SNS %s, FSx %s, DynamoDB and EventBridge %s (moto_server answered %v after its start), Security Hub %s, STS %s, STATE_TABLE %s\n",
			s.KMSEndpoint, s.LocalKMSEndpoint, s.SNSEndpoint, s.FSxEndpoint, s.DynamoDBEndpoint, s.DynamoDBReady.Round(time.Millisecond), s.SecurityHubEndpoint, s.STSEndpoint, s.StateTable)
		<-ctx.Done()
		fmt.Println("devstack: stopping")
	}
	if err := s.Stop(); err != nil {
		return errors.Join(werr, err)
	}
	fmt.Println("devstack: stopped")
	return werr
}
