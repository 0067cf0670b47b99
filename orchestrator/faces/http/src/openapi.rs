//! OpenAPI pieces every face's document uses.

use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::Modify;

/// An optional body (`request_body(content = Option<T>)`) may be left out, not sent as
/// JSON `null` (which the handlers refuse): drop the `null` alternative utoipa adds.
pub struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, doc: &mut Document) {
        let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.post, &mut item.put, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let Some(body) = &mut op.request_body else {
                    continue;
                };
                for content in body.content.values_mut() {
                    if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                        let rest: Vec<&RefOr<Schema>> =
                            one_of.items.iter().filter(|s| !is_null(s)).collect();
                        if let [only] = rest.as_slice() {
                            content.schema = Some((*only).clone());
                        }
                    }
                }
            }
        }
    }
}
