// run_emberd: the daemon's objects in dependency order, the signal wait and the drain.
#include "host/api/daemon.h"

#include <filesystem>

#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "host/api/credentials_file.h"
#include "host/api/event_invoke_config_api.h"
#include "host/api/event_source_mapping_api.h"
#include "host/api/function_url_api.h"
#include "host/api/http_server.h"
#include "host/events/async_dispatcher.h"
#include "host/events/mapping_pollers.h"
#include "host/api/lambda_api.h"
#include "host/api/request_auth.h"
#include "host/api/scheduler_api.h"
#include "host/events/schedule_runner.h"
#include "host/logs/function_logs.h"
#include "host/net/host_network.h"
#include "host/net/ipv4.h"
#include "host/net/resolv_conf.h"
#include "host/store/code_store.h"
#include "host/store/function_store.h"
#include "host/store/function_url_store.h"
#include "host/store/schedule_store.h"

namespace ember::host {
namespace {

// After the drain and the invoker's shutdown, connections still open get this long.
constexpr auto kAfterShutdownGrace = std::chrono::seconds(5);

// malloc arenas for all of emberd's threads (M_ARENA_MAX).
constexpr int kMallocArenas = 4;

// The names of the --redis servers: only names reach the API; URLs and passwords stay here.
RedisServerNames redis_server_names(const std::vector<RedisServer>& servers) {
  RedisServerNames names;
  for (const RedisServer& server : servers) names.insert(server.name);
  return names;
}

// What start() opens before the daemon's objects are built on it.
struct Opened {
  std::unique_ptr<net::HostNetwork> network;  // null with --network off
  FunctionStore functions;
  CodeStore code;
  std::unique_ptr<Invoker> invoker;
  std::unique_ptr<EventQueue> events;
  EventInvokeConfigStore event_configs;
  FunctionUrlStore urls;
  ScheduleStore schedules;
  std::string url_base;  // function URLs: "http://<TCP listener>", see function_url_base()
  EventSourceMappingStore mappings;
  std::map<std::string, std::string> access_keys;  // --credentials: TCP requests' keys
};

// Everything the daemon runs on; members are destroyed in reverse order, the server first,
// then the dispatcher (whose workers finish their events), then the APIs and the stores.
struct Daemon {
  Daemon(Opened opened, const EmberdConfig& config)
      : network(std::move(opened.network)),
        functions(std::move(opened.functions)),
        code(std::move(opened.code)),
        logs(config.state_dir + "/logs"),
        invoker(std::move(opened.invoker)),
        events(std::move(opened.events)),
        event_configs(std::move(opened.event_configs)),
        urls(std::move(opened.urls)),
        schedules(std::move(opened.schedules)),
        mappings(std::move(opened.mappings)),
        api(functions, code, logs, *invoker, LambdaApiOptions{.region = config.region}),
        event_config_api(functions, event_configs, config.region),
        url_api(functions, urls, api.runner(), opened.url_base),
        scheduler_api(schedules, SchedulerApiOptions{.region = config.region},
                      [this] { schedule_runner.changed(); }),
        mapping_api(functions, mappings, config.region, redis_server_names(config.redis_servers),
                    [this] { pollers.changed(); }),
        redis_writer(config.redis_servers),
        dispatcher(*events, functions, event_configs, api.runner(), logs,
                   AsyncDispatcherOptions{
                       .workers = config.async_workers,
                       .function_error_delay_ms =
                           std::chrono::milliseconds(config.async_retry_delay).count(),
                       .redis = &redis_writer}),
        pollers(mappings, functions, api.runner(), *events,
                MappingPollersOptions{.servers = config.redis_servers,
                                      .region = config.region,
                                      .visibility_timeout = config.queue_visibility_timeout}),
        schedule_runner(schedules, *events),
        authenticator(RequestAuthOptions{.keys = std::move(opened.access_keys),
                                         .region = config.region}),
        authenticating(api, authenticator),
        server(config.insecure_no_auth ? static_cast<HttpHandler&>(api) : authenticating,
               HttpServerOptions{.max_connections = config.max_connections,
                                 .handler_threads = config.handler_threads,
                                 .request_timeout = config.request_timeout}) {
    api.accept_events(*events);
    event_config_api.add_routes(api.router());
    url_api.add_routes(api.router());
    url_api.check_signatures_with(authenticator);  // AWS_IAM URLs, on every listener
    scheduler_api.add_routes(api.router());
    mapping_api.add_routes(api.router());
    pollers.add_routes(api.router());
    schedule_runner.start();
    api.on_function_deleted([this](const std::string& name) { forget_function(name); });
  }

  // What belonged to a deleted function goes with it.
  void forget_function(const std::string& name) {
    auto dropped = events->drop_function(name);
    if (!dropped.ok()) {
      std::fprintf(stderr, "emberd: %s\n", dropped.error().message().c_str());
    } else if (dropped.value() > 0) {
      std::fprintf(stderr, "emberd: dropped %zu queued events of deleted function %s\n",
                   dropped.value(), name.c_str());
    }
    (void)event_configs.remove(name);
    url_api.function_deleted(name);
    mapping_api.function_deleted(name);
    pollers.changed();
  }

  std::unique_ptr<net::HostNetwork> network;  // outlives the invoker's VMs
  FunctionStore functions;
  CodeStore code;
  FunctionLogs logs;
  std::unique_ptr<Invoker> invoker;
  std::unique_ptr<EventQueue> events;
  EventInvokeConfigStore event_configs;
  FunctionUrlStore urls;
  ScheduleStore schedules;
  EventSourceMappingStore mappings;
  LambdaApi api;
  EventInvokeConfigApi event_config_api;
  FunctionUrlApi url_api;
  SchedulerApi scheduler_api;
  EventSourceMappingApi mapping_api;
  RedisStreamWriter redis_writer;  // Redis destinations and dead-letter targets
  AsyncDispatcher dispatcher;
  MappingPollers pollers;  // reads event sources until destroyed
  ScheduleRunner schedule_runner;  // fires schedules into `events` until destroyed
  RequestAuthenticator authenticator;    // SigV4 for TCP requests
  AuthenticatingHandler authenticating;  // api behind the authenticator
  HttpServer server;
};

// Every HTTP connection takes a descriptor, and so do VMs and stores: the soft limit is
// raised to the hard one, and a hard limit too small for --max-connections is named.
void raise_descriptor_limit(size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  const rlim_t wanted = max_connections + 1024;
  if (limit.rlim_cur < wanted) {
    std::fprintf(stderr,
                 "emberd: warning: RLIMIT_NOFILE is %llu, less than --max-connections + 1024 "
                 "(%llu): clients may wait unaccepted; raise it (ulimit -n, systemd's "
                 "LimitNOFILE=) or lower --max-connections\n",
                 static_cast<unsigned long long>(limit.rlim_cur),
                 static_cast<unsigned long long>(wanted));
  }
}

Status make_state_dir(const std::string& dir) {
  // 0700: the database holds functions' environment variables. Parents as mkdir -p.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("create", dir);
  return {};
}

// The host side of guest networking: NAT, the egress rules, the namespaces' addresses.
Result<std::unique_ptr<net::HostNetwork>> start_network(const EmberdConfig& config) {
  net::NetworkConfig network;
  if (config.dns.empty()) {
    EMBER_TRY(network.resolver, net::default_resolver());
  } else {
    network.resolver = net::parse_ipv4(config.dns).value_or(0);  // checked by the flag parser
  }
  network.bandwidth_bytes_per_s = uint64_t{config.vm_bandwidth_mbit} * 1000 * 1000 / 8;
  network.max_connections = config.vm_max_connections;
  auto started = net::HostNetwork::start(network);
  if (!started.ok()) {
    return make_error("start guest networking",
                      started.error().message() + " (or run emberd with --network off: guests "
                                                  "then have loopback only)");
  }
  std::fprintf(stderr,
               "emberd: guests have networks of their own (resolver %s, default egress %s)\n",
               net::format_ipv4(network.resolver).c_str(),
               net::format_egress_policy(config.invoker.egress_default).c_str());
  return started;
}

// The Unix socket's group becomes `group` (its mode is 0660); when the group does not exist
// or the change fails, the socket keeps its group and a warning says how to fix it.
void set_socket_group(const std::string& path, const std::string& group) {
  const ::group* found = ::getgrnam(group.c_str());
  if (found == nullptr) {
    std::fprintf(stderr,
                 "emberd: warning: group '%s' does not exist, so %s keeps root's group; create "
                 "it (groupadd %s) and add the API's users to it, or pass --socket-group NAME\n",
                 group.c_str(), path.c_str(), group.c_str());
    return;
  }
  if (::chown(path.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0) {
    std::fprintf(stderr, "emberd: warning: cannot give %s the group '%s': %s\n", path.c_str(),
                 group.c_str(), std::strerror(errno));
  }
}

Result<std::unique_ptr<Daemon>> start(const EmberdConfig& config) {
  std::map<std::string, std::string> access_keys;
  if (!config.credentials_file.empty()) {
    EMBER_TRY(access_keys, load_access_keys(config.credentials_file));
  }
  const size_t key_count = access_keys.size();
  raise_descriptor_limit(config.max_connections);
  EMBER_CHECK(make_state_dir(config.state_dir));
  std::unique_ptr<net::HostNetwork> network;
  if (config.network) {
    EMBER_TRY(auto started, start_network(config));
    network = std::move(started);
  }
  InvokerConfig invoker_config = config.invoker;
  invoker_config.network = network.get();
  EMBER_TRY(FunctionStore functions, FunctionStore::open(config.state_dir + "/functions.db"));
  EMBER_TRY(CodeStore code, CodeStore::open(config.state_dir + "/code"));
  EMBER_TRY(auto in_use, functions.code_in_use());
  EMBER_CHECK(code.collect_garbage(in_use));
  EMBER_TRY(std::unique_ptr<Invoker> invoker, make_vm_invoker(invoker_config));
  EMBER_TRY(std::unique_ptr<EventQueue> events, EventQueue::open(config.state_dir + "/events.db"));
  EMBER_TRY(EventInvokeConfigStore event_configs,
            EventInvokeConfigStore::open(config.state_dir + "/functions.db"));
  EMBER_TRY(FunctionUrlStore urls, FunctionUrlStore::open(config.state_dir + "/functions.db"));
  EMBER_TRY(ScheduleStore schedules, ScheduleStore::open(config.state_dir + "/functions.db"));
  EMBER_TRY(EventSourceMappingStore mappings,
            EventSourceMappingStore::open(config.state_dir + "/functions.db"));

  std::vector<Listener> listeners;
  EMBER_TRY(Listener unix_listener, Listener::unix_socket(config.socket_path, 0660));
  set_socket_group(config.socket_path, config.socket_group);
  listeners.push_back(std::move(unix_listener));
  if (!config.listen.empty()) {
    EMBER_TRY(Listener tcp_listener, Listener::tcp(config.listen));
    listeners.push_back(std::move(tcp_listener));
  }
  std::string described;
  std::string url_base = function_url_base("");  // without a TCP listener: http://localhost
  for (const Listener& listener : listeners) {
    described += (described.empty() ? "" : " and ") + listener.description();
    if (listener.port() != 0) url_base = function_url_base(listener.description());
  }

  auto daemon = std::make_unique<Daemon>(
      Opened{std::move(network), std::move(functions), std::move(code), std::move(invoker),
             std::move(events),
             std::move(event_configs), std::move(urls), std::move(schedules), url_base,
             std::move(mappings), std::move(access_keys)},
      config);
  EMBER_CHECK(daemon->server.start(std::move(listeners)));
  std::fprintf(stderr, "emberd: serving the Lambda API on %s (state in %s, region %s)\n",
               described.c_str(), config.state_dir.c_str(), config.region.c_str());
  if (!config.listen.empty()) {
    if (config.insecure_no_auth) {
      std::fputs("emberd: warning: --insecure-no-auth: TCP requests are not authenticated\n",
                 stderr);
    } else {
      std::fprintf(stderr, "emberd: TCP requests must be signed (SigV4) with one of %zu keys "
                   "from %s\n", key_count, config.credentials_file.c_str());
    }
  }
  return daemon;
}

// Waits for SIGTERM or SIGINT. Meanwhile, every kTrimInterval, gives the kernel back the heap
// memory that emberd's threads freed: a burst of cold starts or large payloads would otherwise
// keep its pages resident in each thread's malloc arena for good.
int wait_for_stop_signal(const sigset_t& stop_signals) {
  constexpr timespec kTrimInterval = {.tv_sec = 30, .tv_nsec = 0};
  for (;;) {
    const int signal_number = sigtimedwait(&stop_signals, nullptr, &kTrimInterval);
    if (signal_number > 0) return signal_number;
    ::malloc_trim(0);
  }
}

}  // namespace

EmberdExit run_emberd(const EmberdConfig& config) {
  // Before any thread exists, so every thread inherits the mask and only sigwait() sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // glibc gives each of up to 8 threads per core an arena of its own, and each keeps what it
  // once held; emberd's threads mostly wait, so a few arenas serve them without contention.
  ::mallopt(M_ARENA_MAX, kMallocArenas);
  if (::geteuid() != 0) {
    std::fputs("emberd: warning: not running as root; microVMs will not start\n", stderr);
  }

  auto started = start(config);
  if (!started.ok()) {
    std::fprintf(stderr, "emberd: %s\n", started.error().message().c_str());
    return EmberdExit::kError;
  }
  std::unique_ptr<Daemon> daemon = std::move(started).value();

  const int signal_number = wait_for_stop_signal(stop_signals);
  std::fprintf(stderr, "emberd: %s: draining (up to %lld s)\n", strsignal(signal_number),
               static_cast<long long>(config.drain_timeout.count()));
  daemon->server.stop();
  const bool drained = daemon->server.wait_idle(config.drain_timeout);
  if (!drained) {
    std::fprintf(stderr, "emberd: %zu connections still busy; shutting the invoker down\n",
                 daemon->server.open_connections());
  }
  daemon->dispatcher.stop();  // events not finished stay queued for the next start
  daemon->invoker->shutdown();
  if (!drained && !daemon->server.wait_idle(kAfterShutdownGrace)) {
    // Their threads still use the daemon's objects: leave them allocated and exit.
    std::fprintf(stderr, "emberd: exiting with %zu connections still open\n",
                 daemon->server.open_connections());
    (void)daemon.release();
    return EmberdExit::kOk;
  }
  daemon.reset();
  std::fputs("emberd: stopped\n", stderr);
  return EmberdExit::kOk;
}

}  // namespace ember::host
