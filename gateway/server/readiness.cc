#include "gateway/server/readiness.h"

#include "absl/strings/str_cat.h"
#include "qwen35/v1/text.grpc.pb.h"
#include "server_common/grpc_status.h"

namespace qwen::gateway {

absl::Status ProbeTextReplica(const ReplicaPool& text, const ModelBundle& bundle, std::chrono::milliseconds timeout) {
  auto stub = qwen35::v1::TextGenerator::NewStub(text.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  // Wait through connection set-up and health checking instead of failing on the first try.
  context.set_wait_for_ready(true);
  qwen35::v1::TextModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, qwen35::v1::GetModelInfoRequest(), &info);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("GetModelInfo on ", text.target(), ": ", status.error_message()));
  }
  return CheckTextModelInfo(info, bundle);
}

}  // namespace qwen::gateway
