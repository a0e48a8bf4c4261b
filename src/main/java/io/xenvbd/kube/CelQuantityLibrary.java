package io.xenvbd.kube;

import dev.cel.bundle.CelBuilder;
import dev.cel.common.CelFunctionDecl;
import dev.cel.common.CelOverloadDecl;
import dev.cel.common.types.CelType;
import dev.cel.common.types.OpaqueType;
import dev.cel.common.types.SimpleType;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelFunctionBinding;

/**
 * Kubernetes' CEL quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go) as custom
 * cel-java functions: quantity(), isQuantity(), sign(), and the Quantity members isLessThan,
 * isGreaterThan, compareTo, add, sub, asInteger, asApproximateFloat, isInteger, each declared as
 * Kubernetes declares it (a rule that compiles here compiles on a real API server).
 */
final class CelQuantityLibrary {
  static final CelType QUANTITY = OpaqueType.create("kubernetes.Quantity");

  private CelQuantityLibrary() {}

  static CelBuilder configure(CelBuilder b) {
    return b.setStandardMacros(CelStandardMacro.STANDARD_MACROS)
        .addVar("self", SimpleType.DYN)
        .addVar("oldSelf", SimpleType.DYN)
        .addFunctionDeclarations(
            CelFunctionDecl.newFunctionDeclaration(
                "quantity",
                CelOverloadDecl.newGlobalOverload(
                    "string_to_quantity", QUANTITY, SimpleType.STRING)),
            CelFunctionDecl.newFunctionDeclaration(
                "isQuantity",
                CelOverloadDecl.newGlobalOverload(
                    "is_quantity_string", SimpleType.BOOL, SimpleType.STRING)),
            member("isLessThan", "quantity_less", SimpleType.BOOL, QUANTITY),
            member("isGreaterThan", "quantity_greater", SimpleType.BOOL, QUANTITY),
            member("compareTo", "quantity_compare", SimpleType.INT, QUANTITY),
            member("add", "quantity_add", QUANTITY, QUANTITY),
            member("sub", "quantity_sub", QUANTITY, QUANTITY),
            member("asInteger", "quantity_as_integer", SimpleType.INT),
            member("asApproximateFloat", "quantity_as_float", SimpleType.DOUBLE),
            // A global function in Kubernetes (cel.Overload, not MemberOverload): sign(q), never
            // q.sign().
            CelFunctionDecl.newFunctionDeclaration(
                "sign",
                CelOverloadDecl.newGlobalOverload("quantity_sign", SimpleType.INT, QUANTITY)),
            member("isInteger", "quantity_is_integer", SimpleType.BOOL))
        .addFunctionBindings(
            CelFunctionBinding.from("string_to_quantity", String.class, Quantity::parse),
            CelFunctionBinding.from("is_quantity_string", String.class, Quantity::isQuantity),
            CelFunctionBinding.from(
                "quantity_less", Quantity.class, Quantity.class, (a, q) -> a.compareTo(q) < 0),
            CelFunctionBinding.from(
                "quantity_greater", Quantity.class, Quantity.class, (a, q) -> a.compareTo(q) > 0),
            CelFunctionBinding.from(
                "quantity_compare",
                Quantity.class,
                Quantity.class,
                (a, q) -> (long) Integer.signum(a.compareTo(q))),
            CelFunctionBinding.from("quantity_add", Quantity.class, Quantity.class, Quantity::add),
            CelFunctionBinding.from("quantity_sub", Quantity.class, Quantity.class, Quantity::sub),
            CelFunctionBinding.from(
                "quantity_as_integer", Quantity.class, q -> q.value().longValueExact()),
            CelFunctionBinding.from(
                "quantity_as_float", Quantity.class, q -> q.value().doubleValue()),
            CelFunctionBinding.from(
                "quantity_sign", Quantity.class, q -> (long) q.value().signum()),
            CelFunctionBinding.from(
                "quantity_is_integer",
                Quantity.class,
                q -> q.value().stripTrailingZeros().scale() <= 0));
  }

  private static CelFunctionDecl member(
      String name, String overload, CelType result, CelType... args) {
    CelType[] all = new CelType[args.length + 1];
    all[0] = QUANTITY;
    System.arraycopy(args, 0, all, 1, args.length);
    return CelFunctionDecl.newFunctionDeclaration(
        name, CelOverloadDecl.newMemberOverload(overload, result, all));
  }
}
