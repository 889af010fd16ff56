// BatchInvoker: one synchronous run of a function on a batch of source records, as event
// source mappings make it, with Lambda's reading of batchItemFailures.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "host/api/invocation_runner.h"
#include "host/store/function_store.h"

namespace ember::host {

struct BatchOutcome {
  enum class Kind {
    kSucceeded,      // the function returned (see failed_ids for a partial failure)
    kFunctionError,  // the function failed: the whole batch failed
    kNotRun,         // no capacity, Ember failing, or the function is gone: try again later
  };
  Kind kind = Kind::kNotRun;
  // With ReportBatchItemFailures: the ids the response names as failed (sorted as in the
  // batch); a response Lambda cannot read makes the whole batch a function error.
  std::vector<std::string> failed_ids;
  std::string request_id;
  std::string response;        // the function's response or error payload
  std::string function_error;  // "Unhandled" on a function error
  std::string problem;         // for kNotRun: why, for LastProcessingResult
};

// Runs `function_name` with {"Records": records}; `ids` are the records' identifiers in order
// (entry ids), for batchItemFailures.
BatchOutcome invoke_batch(FunctionStore& functions, InvocationRunner& runner,
                          const std::string& function_name,
                          const std::vector<nlohmann::json>& records,
                          const std::vector<std::string>& ids, bool report_item_failures);

}  // namespace ember::host
