package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fsxkms/fsxkms/pkg/state"
)

// motoServer is the program that serves the local DynamoDB: Python's moto
// in server mode (on these machines through a pyenv shim, which execs the
// Python interpreter, so the process keeps its pid).
const motoServer = "moto_server"

// motoInstall says what to install when moto_server is missing or cannot
// start. Debian 12 has no moto package (apt-cache policy python3-moto finds
// none), so the only source is PyPI.
const motoInstall = "install it with: pip install 'moto[server]' " +
	"(the devstack's DynamoDB, which holds the alert state table, is moto's server; Debian has no python3-moto package)"

// startMoto starts moto_server on 127.0.0.1, waits until its DynamoDB
// answers ListTables over the wire, and creates the state table.
func (s *Stack) startMoto(ctx context.Context, opts Options) error {
	bin, err := exec.LookPath(motoServer)
	if err != nil {
		return fmt.Errorf("devstack: %s not found on PATH (%v); %s", motoServer, err, motoInstall)
	}
	if opts.DynamoDBPort != 0 {
		if err := checkPortFree("moto (DynamoDB)", opts.DynamoDBPort); err != nil {
			return fmt.Errorf("devstack: %w", err)
		}
	}
	var started time.Time
	port, err := s.onFreePort(opts.DynamoDBPort, func(port int) (*process, error) {
		started = time.Now()
		p, err := startProcess("moto", bin, []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}, []string{
			// The account of the ARNs moto answers with (table ARNs).
			"MOTO_ACCOUNT_ID=" + opts.Account,
			"PYTHONUNBUFFERED=1",
		}, filepath.Join(s.Dir, "moto.log"))
		if err != nil {
			return nil, fmt.Errorf("%w; %s", err, motoInstall)
		}
		c := dynamoDBAt("http://127.0.0.1:"+strconv.Itoa(port), opts.Region)
		err = p.waitReady(ctx, opts.Timeout, func() error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			// One attempt per probe: waitReady does the polling.
			_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
			return err
		})
		if err != nil && !errors.Is(err, errPortTaken) {
			err = fmt.Errorf("%w\n(%s is %s; if it cannot start, %s)", err, motoServer, bin, motoInstall)
		}
		return p, err
	})
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.DynamoDBEndpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	c := s.dynamoDB(opts.Region)
	s.DynamoDBReady = time.Since(started)
	if err := createStateTable(ctx, c, s.StateTable); err != nil {
		return fmt.Errorf("devstack: moto (DynamoDB) at %s: %w", s.DynamoDBEndpoint, err)
	}
	return nil
}

// dynamoDB returns a client of the stack's DynamoDB that does not read the
// user's AWS configuration. It keeps the SDK's retries: now and then the
// client reads moto's answer off a connection already closed under it
// (aws-sdk-go-v2 #2737, "use of closed network connection"), and the SDK
// retries that.
func (s *Stack) dynamoDB(region string) *dynamodb.Client {
	return dynamoDBAt(s.DynamoDBEndpoint, region)
}

// dynamoDBAt is a DynamoDB client of endpoint, as dynamoDB's.
func dynamoDBAt(endpoint, region string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "devstack"}, nil
		}),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
}

// CreateStateTable creates one more state table, named table, on the
// stack's DynamoDB exactly as the one created at start (createStateTable),
// for a test that wants alert state no other test sees.
func (s *Stack) CreateStateTable(ctx context.Context, table string) error {
	return createStateTable(ctx, s.dynamoDB(s.Region), table)
}

// createStateTable creates the state table as template.yaml's StateTable
// declares it: keyArn (HASH, S), finding (RANGE, S), on-demand billing, and
// TTL on expiresAt (moto records the setting but never deletes expired
// items; fsxkms's readers ignore them anyway).
func createStateTable(ctx context.Context, c *dynamodb.Client, table string) error {
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(state.KeyAttribute), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(state.FindingAttribute), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(state.KeyAttribute), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(state.FindingAttribute), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	if _, ok := errors.AsType[*types.ResourceInUseException](err); ok {
		// The table is new to this moto (started by this stack, each table
		// name used once): the SDK retried a CreateTable whose answer was
		// lost, and the first attempt made it.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("CreateTable %s: %w", table, err)
	}
	if err := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Second); err != nil {
		return fmt.Errorf("waiting for table %s to be ACTIVE: %w", table, err)
	}
	_, err = c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(state.TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("UpdateTimeToLive of %s on %s: %w", table, state.TTLAttribute, err)
	}
	return nil
}
