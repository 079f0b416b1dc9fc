//! The contract suite: checks of docs/contract.md against any base URL.
//!
//! Every check is a `pub async fn(&Target)` that panics with a message naming the
//! request, what the contract wants and what came back. The checks share one server and
//! one database and run in parallel, so each one makes its own users (unique emails) and
//! never assumes the table is empty.
//!
//! [`contract_tests!`] turns every check into a `#[tokio::test]` of the calling test
//! binary; `cross` compares two implementations response for response.

pub mod auth;
pub mod cross;
pub mod edge;
pub mod errors;
pub mod http;
pub mod json;
pub mod limits;
pub mod operations;
pub mod process;
pub mod races;
pub mod slow;
pub mod tokens;
pub mod users;

/// An implementation under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// For messages: "rust", "node".
    pub name: String,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// The HS256 secret the target checks tokens against.
    pub jwt_secret: String,
}

impl Target {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `host:port` of the base URL, for raw TCP checks.
    pub fn authority(&self) -> String {
        let rest = self
            .base_url
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&self.base_url);
        rest.split('/').next().unwrap_or(rest).to_string()
    }
}

/// Expands to one `#[tokio::test]` per check of the suite. `$target` is an
/// `async fn() -> &'static Target` of the calling test binary (one server per binary).
#[macro_export]
macro_rules! contract_tests {
    ($target:path) => {
        $crate::contract_tests!(@list $target; []);
    };
    // Every check marked `#[ignore]`: for a runner that needs an outside server.
    ($target:path, ignored) => {
        $crate::contract_tests!(@list $target; [ignore = "needs CONTRACT_BASE_URL; run with --ignored"]);
    };
    (@list $target:path; [$($attr:meta)*]) => {
        $crate::contract_tests!(@each $target; [$($attr)*];
            users::users_create_returns_201_location_and_user,
            users::users_get_returns_the_user,
            users::users_get_unknown_is_404,
            users::users_get_accepts_uppercase_id,
            users::users_create_with_id_is_idempotent,
            users::users_create_duplicate_email_is_409,
            users::users_create_invalid_email_is_422,
            users::users_create_accepts_valid_emails,
            users::users_create_invalid_id_is_422,
            users::users_patch_updates_email,
            users::users_patch_errors,
            users::users_delete,
            users::users_list_pagination_newest_first,
            users::users_list_default_limit_is_20,
            users::users_list_limit_bounds,
            users::users_list_bad_cursor,
            races::races_one_email,
            races::races_one_id_same_email,
            races::races_one_id_many_emails,
            races::races_patch_one_email,
            races::races_delete_one_id,
            auth::auth_missing_token,
            auth::auth_invalid_tokens,
            auth::auth_missing_scope,
            auth::auth_leeway_and_scope_list,
            auth::auth_covers_every_users_route,
            auth::auth_public_endpoints_need_no_token,
            errors::errors_unknown_route_404,
            errors::errors_wrong_method_405_with_allow,
            errors::errors_wrong_method_on_operational_routes,
            errors::errors_request_id_kept_when_valid,
            errors::errors_request_id_replaced_when_invalid,
            errors::errors_invalid_user_ids_are_400,
            errors::errors_invalid_json_body,
            errors::errors_body_not_an_object,
            errors::errors_wrong_content_type_is_415,
            errors::errors_oversized_body_is_413,
            errors::errors_check_order,
            limits::limits_head_over_16k_is_431,
            limits::limits_more_than_64_headers_is_431,
            limits::limits_head_within_limits_is_served,
            limits::limits_slow_head_is_408,
            limits::limits_silent_connection_is_closed,
            slow::slow_second_head_is_408,
            slow::slow_stalled_body_is_408,
            edge::edge_content_length_with_chunked,
            edge::edge_two_content_lengths_is_400,
            edge::edge_obs_fold_is_400,
            edge::edge_http10_closes_unless_keep_alive,
            edge::edge_pipelined_requests_in_order,
            operations::operations_health_live,
            operations::operations_health_ready,
            operations::operations_metrics,
            operations::operations_openapi,
            process::process_example_batch_exact,
            process::process_field_rules,
            process::process_first_failing_field_names_the_error,
            process::process_invalid_list_capped_at_100,
            process::process_stats_nearest_rank_and_floor_mean,
            process::process_tags_count_once_and_sort_bytewise,
            process::process_no_valid_records,
            process::process_huge_number_is_an_invalid_amount,
            process::process_bad_bodies_are_400,
            process::process_record_count_limits,
            process::process_body_limits,
            process::process_generated_batches_match_reference,
        );
    };
    (@each $target:path; $attrs:tt; $($module:ident :: $check:ident),* $(,)?) => {
        $(
            $crate::contract_tests!(@one $target; $attrs; $module::$check);
        )*
    };
    (@one $target:path; [$($attr:meta)*]; $module:ident :: $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $check() {
            let target: &'static $crate::Target = $target().await;
            $crate::$module::$check(target).await;
        }
    };
}
