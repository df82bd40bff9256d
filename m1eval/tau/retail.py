"""The retail domain's tools, with tau-bench's behaviour and exact return strings."""

from __future__ import annotations

import json
from typing import Any

from m1eval.tau.calculate import calculate as _calculate

Data = dict[str, Any]


def calculate(data: Data, expression: str) -> str:
    return _calculate(expression)


def cancel_pending_order(data: Data, order_id: str, reason: str) -> str:
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be cancelled"
    if reason not in ["no longer needed", "ordered by mistake"]:
        return "Error: invalid reason"
    refunds = []
    for payment in order["payment_history"]:
        pid = payment["payment_method_id"]
        refunds.append({"transaction_type": "refund", "amount": payment["amount"],
                        "payment_method_id": pid})  # fmt: skip
        if "gift_card" in pid:  # gift cards are refunded at once
            method = data["users"][order["user_id"]]["payment_methods"][pid]
            method["balance"] += payment["amount"]
            method["balance"] = round(method["balance"], 2)
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    return json.dumps(order)


def _check_items(order: dict, item_ids: list, message: str | None = None) -> str | None:
    all_item_ids = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > all_item_ids.count(item_id):
            return message or f"Error: {item_id} not found"
    return None


def _price_difference(data: Data, order: dict, item_ids: list, new_item_ids: list
                      ) -> tuple[float, str | None]:  # fmt: skip
    if len(item_ids) != len(new_item_ids):
        return 0, "Error: the number of items to be exchanged should match"
    products = data["products"]
    diff = 0
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        item = next(i for i in order["items"] if i["item_id"] == item_id)
        variants = products[item["product_id"]]["variants"]
        if not (new_item_id in variants and variants[new_item_id]["available"]):
            return 0, f"Error: new item {new_item_id} not found or available"
        diff += variants[new_item_id]["price"] - item["price"]
    return diff, None


def exchange_delivered_order_items(data: Data, order_id: str, item_ids: list,
                                   new_item_ids: list, payment_method_id: str) -> str:  # fmt: skip
    orders, users = data["orders"], data["users"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "delivered":
        return "Error: non-delivered order cannot be exchanged"
    error = _check_items(order, item_ids)
    if error:
        return error
    diff, error = _price_difference(data, order, item_ids, new_item_ids)
    if error:
        return error
    diff = round(diff, 2)
    if payment_method_id not in users[order["user_id"]]["payment_methods"]:
        return "Error: payment method not found"
    method = users[order["user_id"]]["payment_methods"][payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < diff:
        return "Error: insufficient gift card balance to pay for the price difference"
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = diff
    return json.dumps(order)


def find_user_id_by_email(data: Data, email: str) -> str:
    for user_id, profile in data["users"].items():
        if profile["email"].lower() == email.lower():
            return user_id
    return "Error: user not found"


def find_user_id_by_name_zip(data: Data, first_name: str, last_name: str, zip: str) -> str:
    for user_id, profile in data["users"].items():
        if (profile["name"]["first_name"].lower() == first_name.lower()
                and profile["name"]["last_name"].lower() == last_name.lower()
                and profile["address"]["zip"] == zip):  # fmt: skip
            return user_id
    return "Error: user not found"


def get_order_details(data: Data, order_id: str) -> str:
    if order_id in data["orders"]:
        return json.dumps(data["orders"][order_id])
    return "Error: order not found"


def get_product_details(data: Data, product_id: str) -> str:
    if product_id in data["products"]:
        return json.dumps(data["products"][product_id])
    return "Error: product not found"


def get_user_details(data: Data, user_id: str) -> str:
    if user_id in data["users"]:
        return json.dumps(data["users"][user_id])
    return "Error: user not found"


def list_all_product_types(data: Data) -> str:
    names = {p["name"]: p["product_id"] for p in data["products"].values()}
    return json.dumps(dict(sorted(names.items())))


def _address(address1: str, address2: str, city: str, state: str, country: str, zip: str
             ) -> dict[str, str]:  # fmt: skip
    return {"address1": address1, "address2": address2, "city": city, "state": state,
            "country": country, "zip": zip}  # fmt: skip


def modify_pending_order_address(data: Data, order_id: str, address1: str, address2: str,
                                 city: str, state: str, country: str, zip: str) -> str:  # fmt: skip
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be modified"
    order["address"] = _address(address1, address2, city, state, country, zip)
    return json.dumps(order)


def modify_pending_order_items(data: Data, order_id: str, item_ids: list, new_item_ids: list,
                               payment_method_id: str) -> str:  # fmt: skip
    products, orders, users = data["products"], data["orders"], data["users"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be modified"
    error = _check_items(order, item_ids)
    if error:
        return error
    diff, error = _price_difference(data, order, item_ids, new_item_ids)
    if error:
        return error
    if payment_method_id not in users[order["user_id"]]["payment_methods"]:
        return "Error: payment method not found"
    method = users[order["user_id"]]["payment_methods"][payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < diff:
        return "Error: insufficient gift card balance to pay for the new item"
    order["payment_history"].append({
        "transaction_type": "payment" if diff > 0 else "refund", "amount": abs(diff),
        "payment_method_id": payment_method_id,
    })  # fmt: skip
    if method["source"] == "gift_card":
        method["balance"] -= diff
        method["balance"] = round(method["balance"], 2)
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        item = next(i for i in order["items"] if i["item_id"] == item_id)
        variant = products[item["product_id"]]["variants"][new_item_id]
        item["item_id"] = new_item_id
        item["price"] = variant["price"]
        item["options"] = variant["options"]
    order["status"] = "pending (item modified)"
    return json.dumps(order)


def modify_pending_order_payment(data: Data, order_id: str, payment_method_id: str) -> str:
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "pending":
        return "Error: non-pending order cannot be modified"
    methods = data["users"][order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    history = order["payment_history"]
    if len(history) > 1 or history[0]["transaction_type"] != "payment":
        return "Error: there should be exactly one payment for a pending order"
    if history[0]["payment_method_id"] == payment_method_id:
        return "Error: the new payment method should be different from the current one"
    amount = history[0]["amount"]
    method = methods[payment_method_id]
    if method["source"] == "gift_card" and method["balance"] < amount:
        return "Error: insufficient gift card balance to pay for the order"
    old_id = history[0]["payment_method_id"]
    history.extend([
        {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
        {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id},
    ])  # fmt: skip
    if method["source"] == "gift_card":
        method["balance"] -= amount
        method["balance"] = round(method["balance"], 2)
    if "gift_card" in old_id:
        old = methods[old_id]
        old["balance"] += amount
        old["balance"] = round(old["balance"], 2)
    return json.dumps(order)


def modify_user_address(data: Data, user_id: str, address1: str, address2: str, city: str,
                        state: str, country: str, zip: str) -> str:  # fmt: skip
    users = data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    user["address"] = _address(address1, address2, city, state, country, zip)
    return json.dumps(user)


def return_delivered_order_items(data: Data, order_id: str, item_ids: list,
                                 payment_method_id: str) -> str:  # fmt: skip
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != "delivered":
        return "Error: non-delivered order cannot be returned"
    if payment_method_id not in data["users"][order["user_id"]]["payment_methods"]:
        return "Error: payment method not found"
    if ("gift_card" not in payment_method_id
            and payment_method_id != order["payment_history"][0]["payment_method_id"]):  # fmt: skip
        return "Error: payment method should be either the original payment method or a gift card"
    error = _check_items(order, item_ids, "Error: some item not found")
    if error:
        return error
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    return json.dumps(order)


def think(data: Data, thought: str) -> str:
    return ""


def transfer_to_human_agents(data: Data, summary: str) -> str:
    return "Transfer successful"


TOOLS = {f.__name__: f for f in (
    calculate, cancel_pending_order, exchange_delivered_order_items, find_user_id_by_email,
    find_user_id_by_name_zip, get_order_details, get_product_details, get_user_details,
    list_all_product_types, modify_pending_order_address, modify_pending_order_items,
    modify_pending_order_payment, modify_user_address, return_delivered_order_items, think,
    transfer_to_human_agents,
)}  # fmt: skip
TERMINATE_TOOLS = ("transfer_to_human_agents",)


# tau-bench's tools are classes whose static ``invoke`` is called with the model's arguments:
# a missing or unknown argument reads "GetUserDetails.invoke() missing ..." there, and here
# (arguments that are not an object name the module too)
for _name, _tool in TOOLS.items():
    _tool.__qualname__ = "".join(w.title() for w in _name.split("_")) + ".invoke"
    _tool.__module__ = f"tau_bench.envs.retail.tools.{_name}"
