// Tests for filter patterns: every matcher, nesting, arrays, $or, views and refusals.
#include "host/events/filter_pattern.h"

#include <gtest/gtest.h>

#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;

FilterPattern must_parse(std::string_view text) {
  auto parsed = FilterPattern::parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message());
  return parsed.ok() ? parsed.value() : FilterPattern::parse(R"({"never-here":[1]})").value();
}

bool match(std::string_view pattern, std::string_view record) {
  return must_parse(pattern).matches(json::parse(record));
}

// The refusal's context, after checking its op is Lambda's message.
std::string refusal(std::string_view pattern) {
  auto parsed = FilterPattern::parse(pattern);
  EXPECT_FALSE(parsed.ok()) << pattern;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.error().op, "Invalid filter pattern definition.");
  return parsed.error().context;
}

TEST(FilterPatternTest, ExactStringsNumbersBooleansAndNull) {
  EXPECT_TRUE(match(R"({"a":["x"]})", R"({"a":"x"})"));
  EXPECT_FALSE(match(R"({"a":["x"]})", R"({"a":"X"})"));
  EXPECT_FALSE(match(R"({"a":["x"]})", R"({"b":"x"})"));
  EXPECT_TRUE(match(R"({"a":[5]})", R"({"a":5})"));
  EXPECT_TRUE(match(R"({"a":[-5]})", R"({"a":-5})"));
  EXPECT_FALSE(match(R"({"a":[5]})", R"({"a":"5"})"));
  // Lambda compares numbers by their written form: 300 is not 300.0.
  EXPECT_FALSE(match(R"({"a":[300]})", R"({"a":300.0})"));
  EXPECT_TRUE(match(R"({"a":[2.5]})", R"({"a":2.5})"));
  EXPECT_TRUE(match(R"({"a":[true]})", R"({"a":true})"));
  EXPECT_FALSE(match(R"({"a":[true]})", R"({"a":"true"})"));
  EXPECT_TRUE(match(R"({"a":[null]})", R"({"a":null})"));
  EXPECT_FALSE(match(R"({"a":[null]})", R"({})"));
  EXPECT_TRUE(match(R"({"a":[""]})", R"({"a":""})"));
  EXPECT_FALSE(match(R"({"a":[""]})", R"({"a":null})"));
}

TEST(FilterPatternTest, ValuesInAListAreAlternativesAndFieldsAllMustMatch) {
  const char *pattern = R"({"type":["Credit","Debit"],"day":["Monday"]})";
  EXPECT_TRUE(match(pattern, R"({"type":"Debit","day":"Monday"})"));
  EXPECT_FALSE(match(pattern, R"({"type":"Cash","day":"Monday"})"));
  EXPECT_FALSE(match(pattern, R"({"type":"Credit","day":"Tuesday"})"));
  EXPECT_FALSE(match(pattern, R"({"type":"Credit"})"));
}

TEST(FilterPatternTest, NestedKeys) {
  const char *pattern = R"({"body":{"order":{"state":["paid"]}}})";
  EXPECT_TRUE(match(pattern, R"({"body":{"order":{"state":"paid","n":1}},"other":2})"));
  EXPECT_FALSE(match(pattern, R"({"body":{"order":{"state":"new"}}})"));
  EXPECT_FALSE(match(pattern, R"({"body":{"state":"paid"}})"));
  // A nested pattern never matches a scalar: a plain-string body is dropped.
  EXPECT_FALSE(match(pattern, R"({"body":"paid"})"));
  // And a list of matchers never matches an object.
  EXPECT_FALSE(match(R"({"body":["paid"]})", R"({"body":{"state":"paid"}})"));
}

TEST(FilterPatternTest, ArraysInRecordsMatchWhenAnyElementDoes) {
  EXPECT_TRUE(match(R"({"tags":["red"]})", R"({"tags":["blue","red"]})"));
  EXPECT_TRUE(match(R"({"tags":["red"]})", R"({"tags":[["blue"],["red"]]})"));
  EXPECT_FALSE(match(R"({"tags":["red"]})", R"({"tags":["blue","green"]})"));
  EXPECT_FALSE(match(R"({"tags":["red"]})", R"({"tags":[]})"));
  EXPECT_TRUE(match(R"({"n":[{"numeric":[">",10]}]})", R"({"n":[1,2,30]})"));
  // Objects in an array: every field from the same element.
  const char *people =
      R"({"people":[{"first":"John","last":"Doe"},{"first":"Anna","last":"Smith"}]})";
  EXPECT_TRUE(match(R"({"people":{"first":["Anna"]}})", people));
  EXPECT_TRUE(match(R"({"people":{"first":["Anna"],"last":["Smith"]}})", people));
  EXPECT_FALSE(match(R"({"people":{"first":["Anna"],"last":["Doe"]}})", people));
}

TEST(FilterPatternTest, PrefixAndSuffix) {
  EXPECT_TRUE(match(R"({"r":[{"prefix":"us-"}]})", R"({"r":"us-east-1"})"));
  EXPECT_FALSE(match(R"({"r":[{"prefix":"us-"}]})", R"({"r":"eu-west-1"})"));
  EXPECT_FALSE(match(R"({"r":[{"prefix":"us-"}]})", R"({"r":"us"})"));
  EXPECT_FALSE(match(R"({"r":[{"prefix":"1"}]})", R"({"r":12})"));
  EXPECT_TRUE(match(R"({"f":[{"suffix":".png"}]})", R"({"f":"a.png"})"));
  EXPECT_FALSE(match(R"({"f":[{"suffix":".png"}]})", R"({"f":"a.PNG"})"));
  EXPECT_TRUE(match(R"({"f":[{"suffix":{"equals-ignore-case":".png"}}]})", R"({"f":"a.PNG"})"));
  EXPECT_TRUE(match(R"({"r":[{"prefix":{"equals-ignore-case":"US-"}}]})", R"({"r":"us-x"})"));
  EXPECT_FALSE(match(R"({"r":[{"prefix":{"equals-ignore-case":"US-"}}]})", R"({"r":"eu-x"})"));
}

TEST(FilterPatternTest, EqualsIgnoreCase) {
  EXPECT_TRUE(match(R"({"s":[{"equals-ignore-case":"Ready"}]})", R"({"s":"rEADY"})"));
  EXPECT_FALSE(match(R"({"s":[{"equals-ignore-case":"Ready"}]})", R"({"s":"Readys"})"));
  EXPECT_FALSE(match(R"({"s":[{"equals-ignore-case":"true"}]})", R"({"s":true})"));
}

TEST(FilterPatternTest, Wildcard) {
  const char *pattern = R"({"k":[{"wildcard":"img/*/thumb*.png"}]})";
  EXPECT_TRUE(match(pattern, R"({"k":"img/2024/thumb-1.png"})"));
  EXPECT_TRUE(match(pattern, R"({"k":"img//thumb.png"})"));
  EXPECT_FALSE(match(pattern, R"({"k":"img/2024/full.png"})"));
  EXPECT_FALSE(match(pattern, R"({"k":"img/2024/thumb.jpg"})"));
  EXPECT_TRUE(match(R"({"k":[{"wildcard":"a*"}]})", R"({"k":"a"})"));
  EXPECT_TRUE(match(R"({"k":[{"wildcard":"*"}]})", R"({"k":""})"));
  EXPECT_FALSE(match(R"({"k":[{"wildcard":"a*a"}]})", R"({"k":"a"})"));
  EXPECT_TRUE(match(R"({"k":[{"wildcard":"a\\*b"}]})", R"({"k":"a*b"})"));
  EXPECT_FALSE(match(R"({"k":[{"wildcard":"a\\*b"}]})", R"({"k":"axb"})"));
  EXPECT_TRUE(match(R"({"k":[{"wildcard":"a\\\\b"}]})", R"({"k":"a\\b"})"));
}

TEST(FilterPatternTest, AnythingBut) {
  EXPECT_TRUE(match(R"({"w":[{"anything-but":["Raining"]}]})", R"({"w":"Sunny"})"));
  EXPECT_FALSE(match(R"({"w":[{"anything-but":["Raining"]}]})", R"({"w":"Raining"})"));
  EXPECT_FALSE(match(R"({"w":[{"anything-but":["Raining","Snow"]}]})", R"({"w":"Snow"})"));
  EXPECT_TRUE(match(R"({"w":[{"anything-but":"Raining"}]})", R"({"w":"Fog"})"));
  // Anything but needs a value: a missing field does not match.
  EXPECT_FALSE(match(R"({"w":[{"anything-but":"Raining"}]})", R"({})"));
  EXPECT_TRUE(match(R"({"n":[{"anything-but":[100,200]}]})", R"({"n":150})"));
  EXPECT_FALSE(match(R"({"n":[{"anything-but":100}]})", R"({"n":100})"));
  EXPECT_TRUE(match(R"({"r":[{"anything-but":{"prefix":"us-"}}]})", R"({"r":"eu-west-1"})"));
  EXPECT_FALSE(match(R"({"r":[{"anything-but":{"prefix":"us-"}}]})", R"({"r":"us-east-1"})"));
  EXPECT_TRUE(match(R"({"f":[{"anything-but":{"suffix":".png"}}]})", R"({"f":"a.jpg"})"));
  EXPECT_FALSE(match(R"({"f":[{"anything-but":{"suffix":".png"}}]})", R"({"f":"a.png"})"));
  EXPECT_FALSE(match(R"({"s":[{"anything-but":{"equals-ignore-case":["init","stop"]}}]})",
                     R"({"s":"STOP"})"));
  EXPECT_TRUE(
      match(R"({"s":[{"anything-but":{"equals-ignore-case":"init"}}]})", R"({"s":"running"})"));
  EXPECT_FALSE(match(R"({"k":[{"anything-but":{"wildcard":"*.tmp"}}]})", R"({"k":"x.tmp"})"));
  EXPECT_TRUE(match(R"({"k":[{"anything-but":{"wildcard":"*.tmp"}}]})", R"({"k":"x.txt"})"));
  // With an array, any element that is not excluded matches.
  EXPECT_TRUE(match(R"({"w":[{"anything-but":"a"}]})", R"({"w":["a","b"]})"));
  EXPECT_FALSE(match(R"({"w":[{"anything-but":"a"}]})", R"({"w":["a","a"]})"));
}

TEST(FilterPatternTest, NumericComparisonsAndRanges) {
  const char *range = R"({"t":[{"numeric":[">",50,"<=",60]}]})";
  EXPECT_FALSE(match(range, R"({"t":50})"));
  EXPECT_TRUE(match(range, R"({"t":50.5})"));
  EXPECT_TRUE(match(range, R"({"t":60})"));
  EXPECT_FALSE(match(range, R"({"t":60.01})"));
  EXPECT_FALSE(match(range, R"({"t":"55"})"));
  EXPECT_TRUE(match(R"({"t":[{"numeric":["<=",5,">=",1]}]})", R"({"t":1})"));
  EXPECT_TRUE(match(R"({"p":[{"numeric":["=",100]}]})", R"({"p":100.0})"));
  EXPECT_FALSE(match(R"({"p":[{"numeric":["=",100]}]})", R"({"p":101})"));
  EXPECT_TRUE(match(R"({"p":[{"numeric":["<",0]}]})", R"({"p":-0.5})"));
  EXPECT_FALSE(match(R"({"p":[{"numeric":["<",0]}]})", R"({"p":0})"));
  EXPECT_TRUE(match(R"({"p":[{"numeric":[">=",3e2]}]})", R"({"p":300})"));
}

TEST(FilterPatternTest, ExistsOnLeaves) {
  EXPECT_TRUE(match(R"({"name":[{"exists":true}]})", R"({"name":"x"})"));
  EXPECT_TRUE(match(R"({"name":[{"exists":true}]})", R"({"name":null})"));
  EXPECT_FALSE(match(R"({"name":[{"exists":true}]})", R"({"other":1})"));
  EXPECT_TRUE(match(R"({"name":[{"exists":false}]})", R"({"other":1})"));
  EXPECT_FALSE(match(R"({"name":[{"exists":false}]})", R"({"name":""})"));
  // exists:false through missing parents.
  EXPECT_TRUE(match(R"({"body":{"deleted":[{"exists":false}]}})", R"({"body":{"a":1}})"));
  EXPECT_TRUE(match(R"({"body":{"deleted":[{"exists":false}]}})", R"({"other":1})"));
  EXPECT_FALSE(match(R"({"body":{"deleted":[{"exists":false}]}})", R"({"body":{"deleted":0}})"));
  // Exists looks at leaves: an object is not one, an empty array has none.
  EXPECT_FALSE(match(R"({"obj":[{"exists":true}]})", R"({"obj":{"c":1}})"));
  EXPECT_TRUE(match(R"({"obj":[{"exists":false}]})", R"({"obj":{"c":1}})"));
  EXPECT_FALSE(match(R"({"list":[{"exists":true}]})", R"({"list":[]})"));
  EXPECT_TRUE(match(R"({"list":[{"exists":true}]})", R"({"list":[0]})"));
}

TEST(FilterPatternTest, Cidr) {
  EXPECT_TRUE(match(R"({"ip":[{"cidr":"10.0.0.0/24"}]})", R"({"ip":"10.0.0.255"})"));
  EXPECT_FALSE(match(R"({"ip":[{"cidr":"10.0.0.0/24"}]})", R"({"ip":"10.0.1.1"})"));
  EXPECT_TRUE(match(R"({"ip":[{"cidr":"10.0.0.0/9"}]})", R"({"ip":"10.127.3.4"})"));
  EXPECT_FALSE(match(R"({"ip":[{"cidr":"10.0.0.0/9"}]})", R"({"ip":"10.128.0.0"})"));
  EXPECT_FALSE(match(R"({"ip":[{"cidr":"10.0.0.0/8"}]})", R"({"ip":"not an ip"})"));
  EXPECT_TRUE(match(R"({"ip":[{"cidr":"2001:db8::/32"}]})", R"({"ip":"2001:db8:1::5"})"));
  EXPECT_FALSE(match(R"({"ip":[{"cidr":"2001:db8::/32"}]})", R"({"ip":"2001:db9::5"})"));
  EXPECT_FALSE(match(R"({"ip":[{"cidr":"2001:db8::/32"}]})", R"({"ip":"10.0.0.1"})"));
  EXPECT_TRUE(match(R"({"ip":[{"cidr":"0.0.0.0/0"}]})", R"({"ip":"8.8.8.8"})"));
}

TEST(FilterPatternTest, OrOfSubPatterns) {
  const char *pattern =
      R"({"source":["app"],"$or":[{"level":["ERROR"]},{"code":[{"numeric":[">=",500]}]}]})";
  EXPECT_TRUE(match(pattern, R"({"source":"app","level":"ERROR","code":200})"));
  EXPECT_TRUE(match(pattern, R"({"source":"app","level":"INFO","code":503})"));
  EXPECT_FALSE(match(pattern, R"({"source":"app","level":"INFO","code":200})"));
  EXPECT_FALSE(match(pattern, R"({"source":"db","level":"ERROR"})"));
  // Nested, and with an AND inside one alternative.
  const char *nested = R"({"body":{"$or":[{"a":[1]},{"b":[2],"c":[3]}]}})";
  EXPECT_TRUE(match(nested, R"({"body":{"b":2,"c":3}})"));
  EXPECT_FALSE(match(nested, R"({"body":{"b":2}})"));
}

TEST(FilterPatternTest, PassesFiltersOrsPatternsAndKeepsAllWithNone) {
  const json record = json::parse(R"({"body":{"kind":"b"}})");
  EXPECT_TRUE(passes_filters({}, record));
  const std::vector<FilterPattern> filters = {must_parse(R"({"body":{"kind":["a"]}})"),
                                              must_parse(R"({"body":{"kind":["b"]}})")};
  EXPECT_TRUE(passes_filters(filters, record));
  EXPECT_FALSE(passes_filters({filters[0]}, record));
}

TEST(FilterPatternTest, RefusesInvalidPatternsWithReasons) {
  EXPECT_NE(refusal("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal("[1]").find("JSON object"), std::string::npos);
  EXPECT_NE(refusal("{}").find("empty object"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":"x"})").find("list of matchers"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[]})").find("empty list"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":{}})").find("\"a\""), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[["x"]]})").find("do not nest"), std::string::npos);
  EXPECT_NE(refusal(R"({"b":{"a":[{"regex":"x"}]}})").find("unknown matcher \"regex\""),
            std::string::npos);
  EXPECT_NE(refusal(R"({"b":{"a":[{"regex":"x"}]}})").find("At \"b.a\""), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"prefix":"x","suffix":"y"}]})").find("exactly one key"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"prefix":5}]})").find("\"prefix\" takes a string"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"exists":"yes"}]})").find("true or false"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"numeric":[">"]}]})").find("\"numeric\" takes"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"numeric":["!=",1]}]})").find("operators"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"numeric":[">","1"]}]})").find("not a number"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"numeric":[">",5,"<",1]}]})").find("empty range"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"numeric":[">",1,">",2]}]})").find("two lower bounds"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"numeric":["=",1,"<",2]}]})").find("stands alone"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"anything-but":["x",1]}]})").find("all strings or all numbers"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"anything-but":[]}]})").find("anything-but"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"anything-but":{"exists":true}}]})").find("anything-but"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"wildcard":"a**b"}]})").find("consecutive"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"wildcard":"a\\b"}]})").find("backslash"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"cidr":"10.0.0.0"}]})").find("address range"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"cidr":"10.0.0.0/33"}]})").find("address range"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":[{"cidr":"10.0.0/8"}]})").find("address range"), std::string::npos);
  EXPECT_NE(refusal(R"({"$or":[{"a":[1]}]})").find("two or more"), std::string::npos);
  // A matcher written without its list gets a hint.
  EXPECT_NE(refusal(R"({"body":{"s":{"prefix":"a"}}})").find("matchers go in a list"),
            std::string::npos);
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "{\"a\":";
  deep += "[1]";
  for (int i = 0; i < 70; ++i) deep += "}";
  EXPECT_NE(refusal(deep).find("deeper"), std::string::npos);
}

TEST(FilterPatternTest, StreamDataMustBeFilteredAsJson) {
  const char *plain = R"({"data":[{"prefix":"a"}]})";
  EXPECT_TRUE(FilterPattern::parse(plain).ok());
  EXPECT_TRUE(FilterPattern::parse(plain, SourceKind::kQueue).ok());
  auto refused = FilterPattern::parse(plain, SourceKind::kStream);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().context.find("filtered as JSON"), std::string::npos);
  EXPECT_FALSE(FilterPattern::parse(R"({"$or":[{"data":["x"]},{"partitionKey":["k"]}]})",
                                    SourceKind::kStream)
                   .ok());
  EXPECT_TRUE(FilterPattern::parse(R"({"data":{"a":["x"]}})", SourceKind::kStream).ok());
}

// Views: what patterns see of queue and stream records.
json queue_like(const std::string &body) {
  return {{"messageId", "1-0"}, {"body", body}, {"attributes", {{"SenderId", "ember"}}}};
}

json stream_like(const std::string &data) {
  return {{"kinesis",
           {{"partitionKey", "orders"}, {"sequenceNumber", "1-0"}, {"data", base64_encode(data)}}},
          {"eventSource", "ember:redis"}};
}

TEST(FilterableViewTest, QueueBodyIsParsedWhenJson) {
  const json view = filterable_view(queue_like(R"({"status":"ok","n":3})"), SourceKind::kQueue);
  EXPECT_EQ(view["body"], json::parse(R"({"status":"ok","n":3})"));
  EXPECT_EQ(view["messageId"], "1-0");
  EXPECT_EQ(view["attributes"]["SenderId"], "ember");
  EXPECT_TRUE(must_parse(R"({"body":{"status":["ok"]}})").matches(view));
  EXPECT_FALSE(must_parse(R"({"body":["{\"status\":\"ok\",\"n\":3}"]})").matches(view));
}

TEST(FilterableViewTest, QueueBodyStaysAStringWhenNotJson) {
  const json view = filterable_view(queue_like("hello world"), SourceKind::kQueue);
  EXPECT_EQ(view["body"], "hello world");
  EXPECT_TRUE(must_parse(R"({"body":[{"prefix":"hello"}]})").matches(view));
  // A JSON pattern against a plain body: Lambda drops the message.
  EXPECT_FALSE(must_parse(R"({"body":{"status":["ok"]}})").matches(view));
  EXPECT_TRUE(must_parse(R"({"messageId":["1-0"]})").matches(view));
}

TEST(FilterableViewTest, StreamDataIsDecodedAndParsedWhenJson) {
  const json record = stream_like(R"({"Location":"Los Angeles","Temperature":55})");
  const json view = filterable_view(record, SourceKind::kStream);
  EXPECT_EQ(view["data"]["Location"], "Los Angeles");
  EXPECT_EQ(view["partitionKey"], "orders");
  EXPECT_EQ(view["eventSource"], "ember:redis");
  EXPECT_FALSE(view.contains("kinesis"));
  EXPECT_TRUE(must_parse(R"({"partitionKey":["orders"],"data":{"Location":["Los Angeles"]}})")
                  .matches(view));
  EXPECT_TRUE(
      must_parse(R"({"data":{"Temperature":[{"numeric":[">",50,"<=",60]}]}})").matches(view));
  EXPECT_FALSE(must_parse(R"({"data":{"Temperature":[{"numeric":[">",60]}]}})").matches(view));
}

TEST(FilterableViewTest, StreamDataStaysBase64WhenNotJson) {
  const std::string binary("\x00\xff\xfe not json", 12);
  const json view = filterable_view(stream_like(binary), SourceKind::kStream);
  EXPECT_EQ(view["data"], base64_encode(binary));
  EXPECT_FALSE(must_parse(R"({"data":{"a":[{"exists":false}]}})").matches(view));
  EXPECT_TRUE(must_parse(R"({"partitionKey":["orders"]})").matches(view));
}

}  // namespace
}  // namespace ember::host
