// Tests for parse_command_line: every command's flags, global flags anywhere, usage errors.
#include "host/cli/command_line.h"

#include <gtest/gtest.h>

namespace ember::cli {
namespace {

using Kind = ParseOutcome::Kind;

ParseOutcome parse(std::vector<std::string> args, const char* env_socket = nullptr,
                   const char* env_endpoint = nullptr) {
  return parse_command_line(args, env_socket, env_endpoint);
}

// Parses args that must be valid.
CommandLine ok(std::vector<std::string> args, const char* env_socket = nullptr,
               const char* env_endpoint = nullptr) {
  ParseOutcome outcome = parse(std::move(args), env_socket, env_endpoint);
  EXPECT_EQ(outcome.kind, Kind::kRun) << outcome.message;
  return outcome.line;
}

// The message of args that must be a usage error.
std::string usage_error(std::vector<std::string> args, const char* env_socket = nullptr,
                        const char* env_endpoint = nullptr) {
  ParseOutcome outcome = parse(std::move(args), env_socket, env_endpoint);
  EXPECT_EQ(outcome.kind, Kind::kUsageError);
  EXPECT_NE(outcome.usage.find("Usage: ember"), std::string::npos);
  return outcome.message;
}

TEST(CommandLineTest, CreateWithEveryFlag) {
  CommandLine line = ok({"create",        "hello",
                         "--runtime",     "python3.11",
                         "--handler",     "app.handler",
                         "--code",        "src",
                         "--memory",      "256",
                         "--timeout",     "30",
                         "--tmp",         "1024",
                         "--env",         "A=1",
                         "--env",         "B=x=y",
                         "--description", "a test",
                         "--role",        "arn:aws:iam::1:role/r"});
  EXPECT_EQ(line.command, Command::kCreate);
  EXPECT_EQ(line.name, "hello");
  EXPECT_EQ(line.settings.runtime, "python3.11");
  EXPECT_EQ(line.settings.handler, "app.handler");
  EXPECT_EQ(line.code.dir, "src");
  EXPECT_EQ(line.code.zip_file, "");
  EXPECT_EQ(line.settings.memory_mb, 256u);
  EXPECT_EQ(line.settings.timeout_s, 30u);
  EXPECT_EQ(line.settings.tmp_mb, 1024u);
  ASSERT_TRUE(line.settings.env);
  EXPECT_EQ(*line.settings.env, (std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}}));
  EXPECT_EQ(line.settings.description, "a test");
  EXPECT_EQ(line.settings.role, "arn:aws:iam::1:role/r");
  EXPECT_EQ(line.endpoint, Endpoint::unix_socket(kDefaultSocket));
  EXPECT_FALSE(line.json);
}

TEST(CommandLineTest, CreateNeedsRuntimeHandlerAndOneCodeSource) {
  const std::vector<std::string> base = {"create", "f", "--runtime", "provided", "--handler", "h"};
  auto with = [&base](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  EXPECT_EQ(ok(with({"--zip", "f.zip"})).code.zip_file, "f.zip");
  EXPECT_NE(usage_error(base).find("--code DIR or --zip FILE"), std::string::npos);
  EXPECT_NE(usage_error(with({"--code", "d", "--zip", "f.zip"})).find("not both"),
            std::string::npos);
  EXPECT_NE(usage_error({"create", "f", "--handler", "h", "--code", "d"}).find("--runtime"),
            std::string::npos);
  EXPECT_NE(usage_error({"create", "f", "--runtime", "provided", "--code", "d"}).find("--handler"),
            std::string::npos);
  EXPECT_NE(usage_error({"create", "--runtime", "provided", "--handler", "h", "--code", "d"})
                .find("NAME is missing"),
            std::string::npos);
}

TEST(CommandLineTest, RefusesBadValues) {
  const std::vector<std::string> base = {"update-config", "f"};
  auto bad = [&base](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return usage_error(args);
  };
  EXPECT_NE(bad({"--runtime", "java11"}).find("java11"), std::string::npos);
  EXPECT_NE(bad({"--memory", "lots"}).find("whole number of MB"), std::string::npos);
  EXPECT_NE(bad({"--memory", "0"}).find("--memory"), std::string::npos);
  EXPECT_NE(bad({"--timeout", "1.5"}).find("--timeout"), std::string::npos);
  EXPECT_NE(bad({"--tmp", "99999999999"}).find("--tmp"), std::string::npos);
  EXPECT_NE(bad({"--env", "NOEQUALS"}).find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(bad({"--env", "=v"}).find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(bad({"--env", "A=1", "--env", "A=2"}).find("twice"), std::string::npos);
  EXPECT_NE(bad({"--env", "A=1", "B=2"}).find("repeat --env"), std::string::npos);
  EXPECT_NE(bad({"--bogus"}).find("bogus"), std::string::npos);
  EXPECT_NE(bad({"--memory"}).find("memory"), std::string::npos);
  EXPECT_NE(usage_error({"update-config", "f"}).find("nothing to update"), std::string::npos);
}

TEST(CommandLineTest, UpdateConfigKeepsUnsetFieldsUnset) {
  CommandLine line = ok({"update-config", "f", "--timeout", "10", "--env", "K=V"});
  EXPECT_EQ(line.command, Command::kUpdateConfig);
  EXPECT_EQ(line.settings.timeout_s, 10u);
  EXPECT_FALSE(line.settings.memory_mb);
  EXPECT_FALSE(line.settings.runtime);
  EXPECT_FALSE(line.settings.handler);
  ASSERT_TRUE(line.settings.env);
  EXPECT_EQ(line.settings.env->at("K"), "V");
}

TEST(CommandLineTest, CommandsWithoutOptionsRefuseThem) {
  EXPECT_EQ(ok({"get", "f"}).command, Command::kGet);
  EXPECT_EQ(ok({"delete", "f"}).command, Command::kDelete);
  EXPECT_EQ(ok({"list"}).command, Command::kList);
  EXPECT_NE(usage_error({"list", "extra"}).find("unexpected argument 'extra'"), std::string::npos);
  EXPECT_NE(usage_error({"get", "a", "b"}).find("'b'"), std::string::npos);
  EXPECT_NE(usage_error({"get"}).find("NAME"), std::string::npos);
  EXPECT_NE(usage_error({"get", "f", "--memory", "128"}).find("memory"), std::string::npos);
}

TEST(CommandLineTest, InvokeFlags) {
  CommandLine line = ok({"invoke", "f", "--payload", "{\"x\":1}", "--tail", "--timing"});
  EXPECT_EQ(line.command, Command::kInvoke);
  EXPECT_EQ(line.invoke.payload, "{\"x\":1}");
  EXPECT_TRUE(line.invoke.tail);
  EXPECT_TRUE(line.invoke.timing);
  EXPECT_FALSE(line.invoke.dry_run);
  EXPECT_EQ(ok({"invoke", "f", "--payload", "-"}).invoke.payload, "-");
  CommandLine file = ok({"invoke", "f", "--payload-file", "event.json", "--dry-run"});
  EXPECT_EQ(file.invoke.payload_file, "event.json");
  EXPECT_TRUE(file.invoke.dry_run);
  EXPECT_NE(usage_error({"invoke", "f", "--payload", "{}", "--payload-file", "e"}).find("not both"),
            std::string::npos);
}

TEST(CommandLineTest, InvokeAsync) {
  CommandLine line = ok({"invoke", "f", "--async", "--payload", "{}"});
  EXPECT_EQ(line.command, Command::kInvoke);
  EXPECT_TRUE(line.invoke.async);
  EXPECT_EQ(line.invoke.payload, "{}");
  EXPECT_FALSE(ok({"invoke", "f"}).invoke.async);
  EXPECT_TRUE(ok({"--json", "invoke", "--async", "f", "--payload-file", "e.json"}).invoke.async);
}

TEST(CommandLineTest, InvokeAsyncRefusesWhatOnlyASyncInvokeHas) {
  const std::string tail = usage_error({"invoke", "f", "--async", "--tail"});
  EXPECT_EQ(tail.rfind("--async cannot be used with --tail: ", 0), 0u) << tail;
  EXPECT_NE(tail.find("ember logs NAME"), std::string::npos) << tail;
  const std::string timing = usage_error({"invoke", "f", "--timing", "--async"});
  EXPECT_EQ(timing.rfind("--async cannot be used with --timing: ", 0), 0u) << timing;
  const std::string dry = usage_error({"invoke", "f", "--async", "--dry-run"});
  EXPECT_NE(dry.find("different invocation types"), std::string::npos) << dry;
  // The synchronous flags still go together without --async.
  CommandLine sync = ok({"invoke", "f", "--tail", "--timing", "--dry-run"});
  EXPECT_TRUE(sync.invoke.tail && sync.invoke.timing && sync.invoke.dry_run);
}

TEST(CommandLineTest, Queue) {
  CommandLine line = ok({"queue", "f", "--json"});
  EXPECT_EQ(line.command, Command::kQueue);
  EXPECT_EQ(line.name, "f");
  EXPECT_TRUE(line.json);
  EXPECT_NE(usage_error({"queue"}).find("NAME is missing"), std::string::npos);
  EXPECT_NE(usage_error({"queue", "f", "g"}).find("'g'"), std::string::npos);
  EXPECT_NE(usage_error({"queue", "f", "--async"}).find("async"), std::string::npos);
  ParseOutcome help = parse({"queue", "--help"});
  EXPECT_EQ(help.kind, Kind::kHelp);
  EXPECT_NE(help.usage.find("Usage: ember queue NAME"), std::string::npos);
  EXPECT_NE(help.usage.find("--json"), std::string::npos);
}

TEST(CommandLineTest, Mappings) {
  CommandLine all = ok({"mappings"});
  EXPECT_EQ(all.command, Command::kMappings);
  EXPECT_EQ(all.mapping_uuid, "");
  EXPECT_EQ(all.mapping_function, "");
  EXPECT_EQ(all.name, "");
  CommandLine filtered = ok({"--json", "mappings", "--function", "hello"});
  EXPECT_EQ(filtered.mapping_function, "hello");
  EXPECT_EQ(filtered.mapping_uuid, "");
  EXPECT_TRUE(filtered.json);
  EXPECT_EQ(
      ok({"mappings", "--function=arn:aws:lambda:local:000000000000:function:f"}).mapping_function,
      "arn:aws:lambda:local:000000000000:function:f");
  CommandLine one = ok({"mappings", "6d1c2a3b-0000-4000-8000-00000000000a"});
  EXPECT_EQ(one.mapping_uuid, "6d1c2a3b-0000-4000-8000-00000000000a");
  EXPECT_EQ(one.mapping_function, "");
}

TEST(CommandLineTest, MappingsUsageErrors) {
  EXPECT_EQ(usage_error({"mappings", "u1", "--function", "f"})
                .rfind("give either a mapping's UUID or --function NAME, not both", 0),
            0u);
  EXPECT_NE(usage_error({"mappings", "u1", "u2"}).find("unexpected argument 'u2'"),
            std::string::npos);
  EXPECT_NE(usage_error({"mappings", "--function", ""}).find("--function needs"),
            std::string::npos);
  EXPECT_NE(usage_error({"mappings", "--function"}).find("function"), std::string::npos);
  EXPECT_NE(usage_error({"mappings", ""}).find("UUID is empty"), std::string::npos);
  EXPECT_NE(usage_error({"mappings", "--follow"}).find("follow"), std::string::npos);
  ParseOutcome help = parse({"mappings", "--help"});
  EXPECT_EQ(help.kind, Kind::kHelp);
  EXPECT_EQ(help.usage.rfind("Usage: ember mappings [--function NAME | UUID]\n", 0), 0u)
      << help.usage;
  EXPECT_NE(help.usage.find("--function NAME"), std::string::npos);
  EXPECT_NE(help.usage.find("--json"), std::string::npos);
  EXPECT_NE(parse({"--help"}).usage.find("\n  mappings       list event source mappings"),
            std::string::npos);
}

TEST(CommandLineTest, LogsFollow) {
  EXPECT_FALSE(ok({"logs", "f"}).follow);
  EXPECT_TRUE(ok({"logs", "f", "--follow"}).follow);
  EXPECT_TRUE(ok({"logs", "-f", "f"}).follow);
}

TEST(CommandLineTest, GlobalFlagsAnywhereAndTheSocketDefault) {
  CommandLine before = ok({"--socket", "/tmp/a.sock", "--json", "get", "f"});
  EXPECT_EQ(before.endpoint, Endpoint::unix_socket("/tmp/a.sock"));
  EXPECT_TRUE(before.json);
  EXPECT_EQ(before.name, "f");
  CommandLine after = ok({"get", "f", "--json", "--socket=/tmp/b.sock"});
  EXPECT_EQ(after.endpoint, Endpoint::unix_socket("/tmp/b.sock"));
  EXPECT_TRUE(after.json);
  EXPECT_EQ(ok({"list"}, "/env/ember.sock").endpoint, Endpoint::unix_socket("/env/ember.sock"));
  EXPECT_EQ(ok({"list", "--socket", "/flag.sock"}, "/env/ember.sock").endpoint,
            Endpoint::unix_socket("/flag.sock"));
  EXPECT_EQ(ok({"list"}, "").endpoint, Endpoint::unix_socket(kDefaultSocket));
  EXPECT_NE(usage_error({"list", "--socket", ""}).find("--socket needs a path"), std::string::npos);
}

TEST(CommandLineTest, EndpointFlag) {
  CommandLine before = ok({"--endpoint", "http://127.0.0.1:9000", "get", "f"});
  EXPECT_EQ(before.endpoint, Endpoint::tcp("127.0.0.1", 9000));
  EXPECT_EQ(before.command, Command::kGet);
  EXPECT_EQ(before.name, "f");
  EXPECT_EQ(ok({"list", "--endpoint=h:1"}).endpoint, Endpoint::tcp("h", 1));
  EXPECT_EQ(ok({"invoke", "f", "--endpoint", "[::1]:9000"}).endpoint, Endpoint::tcp("::1", 9000));
  // The flag beats both variables.
  EXPECT_EQ(ok({"list", "--endpoint", "h:1"}, "/env.sock", "other:2").endpoint,
            Endpoint::tcp("h", 1));
}

TEST(CommandLineTest, EndpointErrors) {
  const std::string both = usage_error({"--socket", "/s.sock", "--endpoint", "h:1", "list"});
  EXPECT_EQ(both, "give either --socket PATH or --endpoint URL, not both");
  const std::string tls = usage_error({"list", "--endpoint", "https://h:443"});
  EXPECT_EQ(tls.rfind("--endpoint 'https://h:443': TLS is not supported", 0), 0u) << tls;
  for (const char* bad : {"h:0", "h:65536", "h:port", "h", "::1:9000"}) {
    EXPECT_EQ(usage_error({"list", "--endpoint", bad}).rfind("--endpoint '", 0), 0u) << bad;
  }
  EXPECT_NE(usage_error({"list", "--endpoint", "h:70000"}).find("1..65535"), std::string::npos);
  EXPECT_NE(usage_error({"list", "--endpoint", ""}).find("--endpoint needs a URL"),
            std::string::npos);
  EXPECT_NE(usage_error({"list", "--endpoint"}).find("endpoint"), std::string::npos);
}

TEST(CommandLineTest, EndpointFromTheEnvironment) {
  EXPECT_EQ(ok({"list"}, nullptr, "http://10.0.2.2:9000").endpoint,
            Endpoint::tcp("10.0.2.2", 9000));
  // EMBER_ENDPOINT beats EMBER_SOCKET; --socket beats EMBER_ENDPOINT.
  EXPECT_EQ(ok({"list"}, "/env.sock", "h:1").endpoint, Endpoint::tcp("h", 1));
  EXPECT_EQ(ok({"list", "--socket", "/flag.sock"}, nullptr, "h:1").endpoint,
            Endpoint::unix_socket("/flag.sock"));
  EXPECT_EQ(ok({"list"}, "/env.sock", "").endpoint, Endpoint::unix_socket("/env.sock"));
  const std::string bad = usage_error({"list"}, nullptr, "https://h:1");
  EXPECT_EQ(bad.rfind("EMBER_ENDPOINT 'https://h:1': TLS is not supported", 0), 0u) << bad;
  // A bad variable does not matter when a flag says where emberd is.
  EXPECT_EQ(ok({"list", "--socket", "/s.sock"}, nullptr, "bogus").endpoint,
            Endpoint::unix_socket("/s.sock"));
}

TEST(CommandLineTest, HelpAndUnknownCommands) {
  ParseOutcome general = parse({"--help"});
  EXPECT_EQ(general.kind, Kind::kHelp);
  EXPECT_NE(general.usage.find("update-config"), std::string::npos);
  EXPECT_NE(general.usage.find("--socket"), std::string::npos);
  EXPECT_NE(general.usage.find("--endpoint URL"), std::string::npos);
  EXPECT_NE(general.usage.find("\n  queue "), std::string::npos);
  ParseOutcome create = parse({"create", "-h"});
  EXPECT_EQ(create.kind, Kind::kHelp);
  EXPECT_NE(create.usage.find("Usage: ember create NAME"), std::string::npos);
  EXPECT_NE(create.usage.find("--runtime RUNTIME"), std::string::npos);
  EXPECT_NE(create.usage.find("--json"), std::string::npos);
  EXPECT_EQ(parse({"invoke", "--help", "--bogus"}).kind, Kind::kHelp);
  EXPECT_NE(usage_error({}).find("no command"), std::string::npos);
  EXPECT_NE(usage_error({"--json"}).find("no command"), std::string::npos);
  EXPECT_NE(usage_error({"frobnicate"}).find("unknown command 'frobnicate'"), std::string::npos);
}

}  // namespace
}  // namespace ember::cli
