// invoke_batch: the function lookup, the run and the batchItemFailures rules.
#include "host/events/batch_invoker.h"

#include <algorithm>

#include "host/api/uuid.h"
#include "host/events/source_records.h"

namespace ember::host {

BatchOutcome invoke_batch(FunctionStore& functions, InvocationRunner& runner,
                          const std::string& function_name,
                          const std::vector<nlohmann::json>& records,
                          const std::vector<std::string>& ids, bool report_item_failures) {
  BatchOutcome outcome;
  outcome.request_id = random_uuid();
  auto function = functions.get(function_name);
  if (!function.ok()) {
    outcome.problem = "PROBLEM: Function " + function_name + " cannot be read: " +
                      function.error().message();
    return outcome;
  }
  InvocationInput input{.request_id = outcome.request_id, .payload = batch_event(records)};
  auto result = runner.run(function.value(), input);
  if (!result.ok()) {
    outcome.problem = "PROBLEM: Function call failed: " + result.error().message();
    return outcome;
  }
  outcome.response = result->outcome.payload;
  outcome.function_error = result->outcome.function_error;
  if (!outcome.function_error.empty()) {
    outcome.kind = BatchOutcome::Kind::kFunctionError;
    return outcome;
  }
  outcome.kind = BatchOutcome::Kind::kSucceeded;
  if (!report_item_failures) return outcome;
  auto failed = batch_item_failures(outcome.response, ids);
  if (!failed) {
    outcome.kind = BatchOutcome::Kind::kFunctionError;  // Lambda: the whole batch failed
    return outcome;
  }
  for (const std::string& id : ids) {
    if (std::find(failed->begin(), failed->end(), id) != failed->end()) {
      outcome.failed_ids.push_back(id);
    }
  }
  return outcome;
}

}  // namespace ember::host
