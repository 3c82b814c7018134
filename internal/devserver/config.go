package devserver

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// clusterName is persisted in the DB on first start; changing it would make
// existing DB files unusable.
const clusterName = "active"

// prepareSQLite returns the persistence config, creating the schema only for
// a new file (running it again fails on existing tables) and the namespace
// only if it is missing.
func prepareSQLite(dbFile, namespace string, searchAttrs map[string]enums.IndexedValueType) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if dbFile == "" {
		// The plugin builds the schema itself for memory mode. Connections
		// are pooled per DSN for the life of the process, so a random name
		// keeps each in-memory server separate.
		conf.DatabaseName = "devserver-" + strconv.FormatUint(rand.Uint64(), 36)
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		conf.DatabaseName = dbFile
		conf.ConnectAttributes = map[string]string{
			"mode": "rwc",
			// WAL plus synchronous=normal measured ≈3× faster than the
			// defaults; a crash can lose no committed data, only a power
			// cut can lose the last transactions.
			"journal_mode": "wal",
			"synchronous":  "normal",
		}
		if err := os.MkdirAll(filepath.Dir(dbFile), 0o700); err != nil {
			return nil, fmt.Errorf("devserver: database directory: %w", err)
		}
		_, err := os.Stat(dbFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("devserver: set up schema in %s (delete the file before retrying): %w", dbFile, err)
			}
		case err != nil:
			return nil, fmt.Errorf("devserver: database file: %w", err)
		}
	}

	// Creating the namespace straight in the DB, with its search attributes,
	// makes both usable the moment the server is up; registering through the
	// API would leave a window until every service's namespace cache
	// refreshes. An existing namespace is left untouched.
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, searchAttrs)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace: %w", err)
	}
	return conf, nil
}

// serverOptions builds the whole server config in code: one process, one
// history shard, static membership on loopback ports.
func serverOptions(o Options, sqlConf *config.SQL, logger log.Logger) ([]temporal.ServerOption, error) {
	host := dialHost(o.IP)
	frontend := net.JoinHostPort(host, strconv.Itoa(o.FrontendPort))

	services := map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{GRPCPort: o.FrontendPort, BindOnIP: o.IP}},
	}
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(frontend),
	}
	// The internal services never need to be reachable from outside.
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		port, err := freePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: "127.0.0.1"}}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}

	const store = "sqlite-default"
	conf := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     store,
			VisibilityStore:  store,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{store: {SQL: sqlConf}},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The worker service dials the frontend through this.
		PublicClient: config.PublicClient{HostPort: frontend},
	}

	return []temporal.ServerOption{
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	}, nil
}

// dynamicConfig uses the settings' typed keys so a renamed setting fails to
// compile instead of being silently ignored. Update, async update, schedules
// and multi-operation are on by default in this server version (the last has
// no setting any more).
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Search attributes added at run time are usable at once instead of
		// after the cluster-wide cache expires.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key():            true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		dynamicconfig.FrontendEnableSchedules.Key():                            true,
		// The UI and tests poll visibility; the default of 10 rps throttles them.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// The default (128k mutable states) is sized for production hosts.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
	}
}
